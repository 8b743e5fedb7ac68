"""ir_fairseq: Instance Regularization (EMNLP 2022) as a fairseq plugin."""
from setuptools import find_packages, setup

setup(
    name="ir_fairseq",
    version="0.1.0",
    description="Instance Regularization for discriminative LM pre-training, as a fairseq plugin",
    packages=find_packages(include=["ir_fairseq", "ir_fairseq.*"]),
    # the fairseq-hydra-train configs (README, "Two launch styles")
    package_data={"ir_fairseq": ["config/*/*.yaml"]},
    python_requires=">=3.10",
    # Ranges, not pins, so that installing the plugin into an existing environment (a CUDA
    # torch, say) keeps what is there: the lower bounds are fairseq 0.12's own and what the
    # plugin uses. The exact versions this project tests with are in requirements*.txt, which
    # scripts/setup.sh installs. fairseq itself is installed with --no-deps (its metadata pulls
    # torchaudio, which nothing here needs): see README, "Install into an existing environment".
    install_requires=[
        "torch>=1.13,<3",
        "numpy>=1.21.3,<2",  # fairseq 0.12 uses np.compat, gone in numpy 2
        "hydra-core>=1.3.2,<1.4",
        "omegaconf>=2.3,<2.4",
        "sentencepiece>=0.1.97",
        "tokenizers>=0.20,<1",
        "scikit-learn>=1.0",
        "scipy>=1.7",
        "tensorboardX",
    ],
    extras_require={
        # writing and checking HF folders (convert-fairseq-to-hf, convert-hf-to-fairseq)
        "hf": ["transformers>=4.40", "safetensors>=0.4"],
        # the reproductions' plots
        "examples": ["matplotlib>=3.5"],
    },
    # every tool is a command of one entry point (ir_fairseq/cli.py); ``python -m ir_fairseq``
    # is the same
    entry_points={"console_scripts": ["ir-fairseq = ir_fairseq.cli:main"]},
)
