"""Published results quoted for context. They used other data subsets, splits and labels, so
they indicate a direction, not a target digit."""

CHEXNET_CITATION = "Rajpurkar et al. 2017, arXiv:1711.05225v3, Table 2"
CHEXNET_PNEUMONIA_AUROC = 0.768

PUBLISHED_PNEUMONIA_AUROC = {
    f"CheXNet ({CHEXNET_CITATION}), NIH ChestX-ray14, 14-label model": CHEXNET_PNEUMONIA_AUROC,
    "torchxrayvision DenseNet (Cohen et al. 2022), NIH, all-dataset model": 0.71,
}


# Published localisation numbers for the findings closest to pneumonia, quoted beside ours in
# chapter 04. Other data, models, labels and annotation formats (segmentations vs boxes): read
# them as the range a classifier's heatmap reaches, not as a target. Every entry names where the
# number was read.
LOCALISATION_LITERATURE = (
    {"study": "Saporta et al. 2022, Nat. Mach. Intell. 4:867-878", "data": "CheXlocalize test (CheXpert), segmentations",
     "finding": "Consolidation", "method": "Grad-CAM, DenseNet121 ensemble", "metric": "mIoU",
     "value": 0.087, "low": 0.056, "high": 0.123,
     "source": "authors' code rajpurkarlab/cheXlocalize, report_results/plot_miou.ipynb (printed output; "
               "not checked against the paper's tables)"},
    {"study": "Saporta et al. 2022", "data": "CheXlocalize test (CheXpert), segmentations",
     "finding": "Airspace opacity", "method": "Grad-CAM, DenseNet121 ensemble", "metric": "mIoU",
     "value": 0.193, "low": 0.175, "high": 0.211, "source": "as above"},
    {"study": "Saporta et al. 2022", "data": "CheXlocalize test (CheXpert), segmentations",
     "finding": "Consolidation", "method": "human benchmark (radiologists)", "metric": "mIoU",
     "value": 0.148, "low": None, "high": None, "source": "as above"},
    {"study": "Saporta et al. 2022", "data": "CheXlocalize test (CheXpert), segmentations",
     "finding": "Consolidation", "method": "human benchmark (radiologists)", "metric": "hit rate (pointing, 0 px)",
     "value": 0.513, "low": 0.355, "high": 0.674, "source": "as above"},
    {"study": "Saporta et al. 2022", "data": "CheXlocalize test (CheXpert), segmentations",
     "finding": "Airspace opacity", "method": "human benchmark (radiologists)", "metric": "hit rate (pointing, 0 px)",
     "value": 0.560, "low": 0.508, "high": 0.611, "source": "as above"},
    {"study": "Arun et al. 2021, Radiol. Artif. Intell. 3(6):e200267", "data": "RSNA Pneumonia Detection Challenge, boxes",
     "finding": "Pneumonia", "method": "8 saliency methods incl. Grad-CAM (InceptionV3 / DenseNet121)",
     "metric": "AUPRC of map pixels vs box", "value": None, "low": 0.160, "high": 0.519,
     "source": "abstract (Results): the range over the eight methods"},
    {"study": "Arun et al. 2021", "data": "RSNA Pneumonia Detection Challenge, boxes", "finding": "Pneumonia",
     "method": "RetinaNet (a detector trained on the boxes)", "metric": "AUPRC of map pixels vs box",
     "value": 0.596, "low": None, "high": None, "source": "abstract (Results)"},
)


# Transfer between the two populations of this report, quoted beside chapter 02's external AUROC.
# Other models, data subsets and preprocessing: a direction, not a target. Each entry names where
# the number was read (checked against the article's abstract and figure caption).
TRANSFER_STUDIES = (
    {"study": "Rollan-Martinez-Herrera et al. 2024, PLoS ONE 19(7):e0306703",
     "trained on": "46,947 adult chest X-rays of several public datasets (Xception, thorax segmentation)",
     "tested on": "the Kermany pediatric set, all 5,856 images (children aged 1-5)",
     "AUROC": 0.82, "low": 0.80, "high": 0.83, "source": "abstract (Results) and Fig 4 caption"},
    {"study": "Xin, Li & Yi 2021, Emerg. Radiol., doi:10.1007/s10140-021-01954-x",
     "trained on": "5,232 Kermany (Guangzhou) pediatric radiographs (ResNet-50)",
     "tested on": "383 NIH ChestX-ray14 radiographs (the other direction)",
     "AUROC": 0.54, "low": None, "high": None, "source": "abstract (Results); 0.95 on its internal test set"},
)
