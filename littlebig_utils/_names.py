"""Names the command line offers as choices, as plain constants (no numpy, pandas or torch).

Building the parser must stay instant (`littlebig --help`), so the choices live here instead
of in the registries they mirror; tests/test_cli.py checks each one against its registry, so a
name added there and not here (or the reverse) fails the tests.
"""

#: Learn-then-Test methods of `thresholds.METHODS` (extend both together)
THRESHOLD_METHODS = ("clopper-pearson", "binomial", "hoeffding-bentkus", "wsr")

#: image datasets of `datasets.DATASETS` that `littlebig predict` reads
IMAGE_DATASETS = ("cifar10-test-jpeg", "cifar10-test", "cifar10-train", "imagenet-val", "imagenet-v2")

#: datasets with reference predictions that `littlebig pairs --dataset` tables
PAIRS_DATASETS = {
    "imagenet-val": "the 14 reference ImageNet models' published predictions (50,000 images)",
    "cifar10-test": "Guo et al.'s published CIFAR-10 predictions, resnet110 and densenet40 "
                    "(lossless test set; densenet40 has no GMACs here: add --gmacs densenet40=V)",
    "cifar10-test-jpeg": "the four pretrained CIFAR ResNets (20/32/44/56) on the JPEG test copy, "
                         "predicted once from the reference checkpoints (minutes on a CPU) and "
                         "reused from results/predictions",
}

#: the pretrained CIFAR ResNets behind PAIRS_DATASETS["cifar10-test-jpeg"]
CIFAR_RESNETS = ("cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56")

#: datasets of `littlebig models` and of reference model names in `littlebig threshold`
REFERENCE_DATASETS = ("imagenet-val",)
