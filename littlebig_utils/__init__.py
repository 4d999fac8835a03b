"""littlebig: confidence-threshold model cascades (Little-Big, Titans), reproducibly."""
import warnings

# tqdm.auto (imported by timm's hub code) warns in notebooks without ipywidgets; our progress
# bars are plain text on purpose, so the warning is noise in the rendered book.
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
