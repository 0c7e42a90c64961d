"""Small input files for the importer tests, and what an import made of them."""

from __future__ import annotations

from environment import write_config

from recommender.cli.main import main as cli_main
from recommender.dataset import Dataset


def write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def cells(dataset) -> dict[tuple[str, str], float]:
    """Every (user id, item id) -> play count of a dataset."""
    coo = dataset.interactions.tocoo()
    return {(dataset.user_ids[r], dataset.item_ids[c]): float(v) for r, c, v in zip(coo.row, coo.col, coo.data)}


def cli_import(tmp_path, capsys, *argv, name="x"):
    """`data import-csv` as a person runs it: (exit status, everything printed, the dataset or None)."""
    config = write_config(tmp_path / "env")
    status = cli_main(["--config", str(config), "data", "import-csv", "--name", name, "--no-progress", *argv])
    captured = capsys.readouterr()
    dataset = Dataset.open(tmp_path / "env" / "data" / "datasets", name) if status == 0 else None
    return status, captured.out + captured.err, dataset
