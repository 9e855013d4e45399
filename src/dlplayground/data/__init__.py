"""Data loaders for the studies: real formats read from paths the user gives, offline fallbacks announced.

Nothing here downloads. Each loader reads the real on-disk format (Olivetti's scikit-learn cache, CIFAR-10
python batches, a folder of face images, the Zindi CSV, BSDS500's images and groundTruth .mat files) and
raises ``UserInputError`` naming the file when the input is missing or malformed. Where no path is given a
study falls back to data a package ships (scikit-learn's digits, scikit-image's ``lfw_subset`` and sample
images) and says so in its output.
"""
