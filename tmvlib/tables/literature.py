"""Published results quoted for context. They used other data subsets, splits and labels, so
they indicate a direction, not a target digit."""

PUBLISHED_PNEUMONIA_AUROC = {
    "CheXNet (Rajpurkar et al. 2017), NIH ChestX-ray14, 14-label model": 0.768,
    "torchxrayvision DenseNet (Cohen et al. 2022), NIH, all-dataset model": 0.71,
}
