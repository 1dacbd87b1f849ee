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
