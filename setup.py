"""ir_fairseq: Instance Regularization (EMNLP 2022) as a fairseq plugin."""
from setuptools import find_packages, setup

setup(
    name="ir_fairseq",
    version="0.1.0",
    description="Instance Regularization for discriminative LM pre-training, as a fairseq plugin",
    packages=find_packages(include=["ir_fairseq", "ir_fairseq.*"]),
    python_requires=">=3.10",
    # fairseq itself is installed with --no-deps by scripts/setup.sh (its metadata pulls
    # torchaudio); these are the pins it and the plugin actually need.
    install_requires=[
        "torch==2.13.0",
        "numpy<2",
        "hydra-core==1.3.2",
        "omegaconf==2.3.0",
        "sentencepiece",
        "tensorboardX",
    ],
    # every tool is a command of one entry point (ir_fairseq/cli.py); ``python -m ir_fairseq``
    # is the same
    entry_points={"console_scripts": ["ir-fairseq = ir_fairseq.cli:main"]},
)
