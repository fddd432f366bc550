"""Fine-tune a sentence-transformers model on labelled pairs with CosineSimilarityLoss."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.dataset import Pair

logger = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class Hyperparameters:
    """The seed card's recipe: batch 16, 4 epochs, AdamW at 5e-5 with a linear schedule, seed 42."""

    batch_size: int = 16
    epochs: int = 4
    learning_rate: float = 5e-5
    seed: int = 42
    warmup_steps: int = 0
    optimizer: str = "adamw_torch"
    scheduler: str = "linear"
    max_seq_length: int = 256
    # "bf16": mixed precision (bfloat16 autocast, float32 weights): cheaper steps on a CPU with AVX512-BF16 or AMX,
    # without a loss in held-out agreement; slower on a CPU without.
    precision: str = "fp32"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class FineTuneResult:
    output_dir: Path
    sha256: str
    model_card: str
    train_loss: float | None
    steps: int
    seconds: float
    log: list[str] = field(default_factory=list)


ProgressCallback = Callable[[dict], None]


def fine_tune(
    *,
    base_model_dir: str | Path,
    pairs: Sequence[Pair],
    output_dir: str | Path,
    hyperparameters: Hyperparameters,
    on_progress: ProgressCallback | None = None,
) -> FineTuneResult:
    """Train a copy of ``base_model_dir`` on ``pairs`` and save it (with its model card) to ``output_dir``."""
    if not pairs:
        raise ValueError("no training pairs")
    from datasets import Dataset
    from sentence_transformers import (  # type: ignore[attr-defined]  # losses is a submodule it does not re-export
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback

    started = time.monotonic()
    log: list[str] = []

    class _Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs:
                return
            elapsed = time.monotonic() - started
            done = state.global_step / max(1, state.max_steps)
            event = {
                "step": state.global_step,
                "max_steps": state.max_steps,
                "loss": logs.get("loss", logs.get("train_loss")),
                "eta_seconds": round(elapsed / done - elapsed, 1) if done > 0 else None,
            }
            log.append(f"step {event['step']}/{event['max_steps']} loss={event['loss']} eta={event['eta_seconds']}s")
            if on_progress is not None:
                on_progress(event)

    model = SentenceTransformer(str(base_model_dir), device="cpu")
    model.max_seq_length = hyperparameters.max_seq_length
    train_dataset = Dataset.from_dict(
        {
            "sentence_0": [pair.sentence_0 for pair in pairs],
            "sentence_1": [pair.sentence_1 for pair in pairs],
            "label": [float(pair.label) for pair in pairs],
        }
    )
    with tempfile.TemporaryDirectory(prefix="grader-train-") as scratch:
        arguments = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=hyperparameters.epochs,
            per_device_train_batch_size=hyperparameters.batch_size,
            learning_rate=hyperparameters.learning_rate,
            warmup_steps=hyperparameters.warmup_steps,
            lr_scheduler_type=hyperparameters.scheduler,
            optim=hyperparameters.optimizer,
            seed=hyperparameters.seed,
            data_seed=hyperparameters.seed,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            dataloader_num_workers=0,
            # A sampler class is what the trainer instantiates; its annotation names only its own samplers.
            batch_sampler=LengthBucketBatchSampler,  # type: ignore[arg-type]
            bf16=hyperparameters.precision == "bf16",
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=arguments,
            train_dataset=train_dataset,
            loss=losses.CosineSimilarityLoss(model),
            callbacks=[_Progress()],
        )
        # With tqdm off, transformers prints every log dict to stdout; _Progress already records them.
        trainer.remove_callback(PrinterCallback)
        output = trainer.train()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(output_dir))
    card_path = output_dir / "README.md"
    return FineTuneResult(
        output_dir=output_dir,
        sha256=directory_sha256(output_dir),
        model_card=card_path.read_text(encoding="utf-8") if card_path.exists() else "",
        train_loss=getattr(output, "training_loss", None),
        steps=output.global_step,
        seconds=round(time.monotonic() - started, 2),
        log=log,
    )


class LengthBucketBatchSampler:
    """Batches of pairs of similar length, in a random order that the seed and the epoch fix.

    Every batch is padded to its longest text, and a transformer's cost grows with that length: random batches of
    Mohler answers pad to about three times the median answer. Shuffling, then sorting by length within windows
    of ``WINDOW_BATCHES`` batches, then shuffling the batches, keeps each step's texts alike in length (less
    padding, so less CPU per step) while every epoch still sees the pairs in a new order. The loss
    is per pair (CosineSimilarityLoss), so which pairs share a batch does not change what is learned, only the
    noise of it.

    Passed as ``batch_sampler`` to SentenceTransformerTrainingArguments; the trainer calls it with the dataset.
    """

    WINDOW_BATCHES = 64

    def __init__(self, dataset, batch_size: int, drop_last: bool, seed: int = 0, **_unused) -> None:
        # Words approximate tokens well enough to group by; each text column is padded per batch.
        self.lengths = [
            len(first.split()) + len(second.split())
            for first, second in zip(dataset["sentence_0"], dataset["sentence_1"], strict=True)
        ]
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full if self.drop_last or not rest else full + 1

    def __iter__(self) -> Iterator[list[int]]:
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        window = self.batch_size * self.WINDOW_BATCHES
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=self.lengths.__getitem__)
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        if self.drop_last:
            batches = [batch for batch in batches if len(batch) == self.batch_size]
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]


def cpu_has_fast_bf16() -> bool:
    """True where bfloat16 matrix multiplies run natively (AVX512-BF16 or AMX); elsewhere they are emulated."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(setting: str) -> str:
    """``auto`` picks bf16 on a CPU that runs it natively, fp32 elsewhere; ``fp32`` and ``bf16`` are taken as is."""
    if setting not in {"auto", "fp32", "bf16"}:
        raise ValueError(f"training precision must be auto, fp32 or bf16, not {setting!r}")
    if setting == "auto":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return setting


def directory_sha256(directory: str | Path) -> str:
    """One hash over every file's relative path and bytes, so any change to an artifact is detected."""
    digest = hashlib.sha256()
    root = Path(directory)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode("utf-8"))
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
