"""Loading classification tasks through `datasets`: a hub name or a local CSV/TSV/JSON/parquet file.

A bad file gets a `DataError` that names the problem (missing column, empty file, unexpected
labels, unreadable encoding, missing text) instead of a stack trace from deep inside a library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets

TEXT_COLUMN_CANDIDATES = (
    ("sentence1", "sentence2"),
    ("question", "sentence"),
    ("premise", "hypothesis"),
    ("question1", "question2"),
    ("sentence",),
    ("text",),
    ("content",),
    ("review",),
)
LABEL_COLUMN_CANDIDATES = ("label", "labels", "class", "target")
HUB_SHORTHANDS = {"glue": "nyu-mll/glue", "super_glue": "aps/super_glue"}
LOCAL_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


class DataError(ValueError):
    """A data set that cannot be used as given; the message says why and what to do."""


@dataclass
class TaskData:
    """A classification data set with its columns resolved and labels mapped to ids 0..C-1."""

    dataset: datasets.Dataset  # columns: text_columns..., "label" (int ids), and the rest
    text_columns: tuple[str, ...]
    label_names: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.label_names))

    def texts(self, index: int | None = None):
        """The text (or text pair) of one row, or of every row."""
        rows = self.dataset if index is None else [self.dataset[index]]
        out = [tuple(row[c] for c in self.text_columns) for row in rows]
        out = [t[0] if len(t) == 1 else t for t in out]
        return out if index is None else out[0]


def _read(source: str, split: str | None) -> datasets.Dataset:
    path = Path(source)
    if path.exists():
        fmt = LOCAL_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise DataError(f"{source}: unsupported file type {path.suffix!r}; use one of {sorted(LOCAL_FORMATS)}")
        if path.stat().st_size == 0:
            raise DataError(f"{source}: the file is empty")
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        try:
            loaded = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
        except UnicodeDecodeError as err:
            raise DataError(f"{source}: the file is not valid UTF-8 ({err.reason} at byte {err.start})") from err
        except Exception as err:  # datasets wraps parser errors in several types
            cause = err.__cause__ or err.__context__ or err
            if "corresponds to no data" in str(err):
                raise DataError(f"{source}: no rows (only a header?)") from err
            if isinstance(cause, UnicodeDecodeError):
                raise DataError(f"{source}: the file is not valid UTF-8 ({cause.reason} at byte {cause.start})") from err
            raise DataError(f"{source}: could not be read as {fmt}: {cause}") from err
        return loaded
    if path.suffix.lower() in LOCAL_FORMATS:
        raise DataError(f"{source}: no such file")
    # a hub data set, "name" or "name:configuration"; "glue/sst2" is shorthand for GLUE's sst2
    name, _, config = source.partition(":")
    if name.count("/") == 1 and name.split("/")[0] in HUB_SHORTHANDS:
        name, config = HUB_SHORTHANDS[name.split("/")[0]], name.split("/")[1]
    try:
        return datasets.load_dataset(name, config or None, split=split or "train")
    except Exception as err:
        raise DataError(
            f"could not load hub data set {source!r} (split {split or 'train'!r}): {err}. "
            "Without network access pass a local file instead."
        ) from err


def _detect_text_columns(columns: list[str]) -> tuple[str, ...]:
    for candidate in TEXT_COLUMN_CANDIDATES:
        if all(c in columns for c in candidate):
            return candidate
    raise DataError(f"no text column found among {columns}; name it with --text-column")


def _detect_label_column(columns: list[str]) -> str | None:
    return next((c for c in LABEL_COLUMN_CANDIDATES if c in columns), None)


def load_task(
    source: str,
    split: str | None = None,
    text_columns: str | tuple[str, ...] | list[str] | None = None,
    label_column: str | None = None,
    label_names: list[str] | None = None,
    max_rows: int | None = None,
    require_labels: bool = True,
) -> TaskData:
    """Load a classification task.

    source: a local file (.csv, .tsv, .json, .jsonl, .parquet) or a hub name (e.g. "glue/sst2").
    text_columns / label_column: given, or detected from common names.
    label_names: the model's labels (id order). Integer labels must lie in 0..C-1; string labels
        must be among the names. Without names, integer labels keep their values and string labels
        are sorted.
    """
    return prepare_task(
        _read(source, split), source, text_columns, label_column, label_names, max_rows, require_labels
    )


def task_from_pandas(frame, name: str, text_columns=None, label_column=None, label_names=None,
                     max_rows=None, require_labels=True, detect_label: bool = True) -> TaskData:
    """A task from an in-memory table (an uploaded file), checked exactly like a file on disk.
    detect_label=False: no label column unless one is named (the user chose "no labels")."""
    if label_column is None and not detect_label:
        frame = frame.drop(columns=[c for c in LABEL_COLUMN_CANDIDATES if c in frame.columns])
    return prepare_task(
        datasets.Dataset.from_pandas(frame, preserve_index=False), name, text_columns, label_column,
        label_names, max_rows, require_labels,
    )


def prepare_task(
    ds: datasets.Dataset,
    source: str,
    text_columns: str | tuple[str, ...] | list[str] | None = None,
    label_column: str | None = None,
    label_names: list[str] | None = None,
    max_rows: int | None = None,
    require_labels: bool = True,
) -> TaskData:
    """Resolve columns, check texts and map labels to ids (see `load_task`)."""
    if len(ds) == 0:
        raise DataError(f"{source}: no rows")
    columns = list(ds.column_names)
    if text_columns is None:
        text_columns = _detect_text_columns(columns)
    elif isinstance(text_columns, str):
        text_columns = (text_columns,)
    text_columns = tuple(text_columns)
    missing = [c for c in text_columns if c not in columns]
    if missing:
        raise DataError(f"{source}: missing text column(s) {missing}; the file has {columns}")
    if label_column is None:
        label_column = _detect_label_column(columns)
    elif label_column not in columns:
        raise DataError(f"{source}: missing label column {label_column!r}; the file has {columns}")
    if label_column is None and require_labels:
        raise DataError(f"{source}: no label column found among {columns}; name it with --label-column")

    if max_rows is not None and len(ds) > max_rows:
        ds = ds.select(range(max_rows))
    for c in text_columns:
        texts = ds[c]
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()), None)
        if bad is not None:
            raise DataError(f"{source}: row {bad + 1} has an empty or missing {c!r}")

    if label_column is None:
        names = list(label_names or [])
        return TaskData(ds, text_columns, names, source)

    raw = ds[label_column]
    if not require_labels and all(isinstance(v, int) and v < 0 for v in raw):
        # hub test splits mark "no label" with -1: the set is unlabelled
        return TaskData(ds.remove_columns(label_column), text_columns, list(label_names or []), source)
    missing_row = next((i for i, v in enumerate(raw) if v is None or (isinstance(v, str) and not v.strip())), None)
    if missing_row is not None:
        raise DataError(f"{source}: row {missing_row + 1} has no label")
    as_str = [str(v).strip() for v in raw]
    is_integer = all(v.lstrip("-").isdigit() for v in as_str) and not any(isinstance(v, bool) for v in raw[:1])
    if label_names is not None and set(as_str) <= set(label_names):
        lookup = {name: i for i, name in enumerate(label_names)}
        ids = [lookup[v] for v in as_str]
    elif is_integer:
        ids = [int(v) for v in as_str]
        if min(ids) < 0:
            raise DataError(f"{source}: integer labels must be >= 0, found {min(ids)}")
        if label_names is None:
            label_names = [str(i) for i in range(max(ids) + 1)]
        unknown = sorted({i for i in ids if i >= len(label_names)})
        if unknown:
            raise DataError(
                f"{source}: labels {unknown[:10]} are outside 0..{len(label_names) - 1} (labels: {label_names})"
            )
    elif label_names is None:
        label_names = sorted(set(as_str))
        lookup = {name: i for i, name in enumerate(label_names)}
        ids = [lookup[v] for v in as_str]
    else:
        unknown = sorted(set(as_str) - set(label_names))
        raise DataError(f"{source}: unexpected label values {unknown[:10]}; expected {label_names}")
    if len(label_names) < 2:
        raise DataError(f"{source}: a classification task needs at least 2 labels, found {label_names}")
    if label_column != "label":
        if "label" in ds.column_names:
            ds = ds.remove_columns("label")
        ds = ds.rename_column(label_column, "label")
    ds = ds.remove_columns("label").add_column("label", ids)
    return TaskData(ds, text_columns, list(label_names), source)


def tokenize(task: TaskData, tokenizer, max_length: int = 128) -> datasets.Dataset:
    """Tokenised copy of the task's data set (input_ids, attention_mask, token_type_ids, label, length)."""

    def encode(batch):
        texts = [batch[c] for c in task.text_columns]
        enc = tokenizer(*texts, truncation=True, max_length=max_length)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        return enc

    keep = {"label"} & set(task.dataset.column_names)
    drop = [c for c in task.dataset.column_names if c not in keep]
    return task.dataset.map(encode, batched=True, remove_columns=drop, desc="tokenizing")


def train_validation_split(task: TaskData, validation_fraction: float, seed: int) -> tuple[TaskData, TaskData]:
    """Hold out a validation part with a fixed seed (model selection never looks at the dev set)."""
    parts = task.dataset.train_test_split(test_size=validation_fraction, seed=seed)
    return (
        TaskData(parts["train"], task.text_columns, task.label_names, task.source),
        TaskData(parts["test"], task.text_columns, task.label_names, task.source),
    )


# ---- uploads in the app: read a table, propose (never silently choose) its columns ------------------------

DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}
MAX_LABEL_VALUES = 50  # more distinct values than this in a "label" column: free text, not labels


def read_table(name: str, raw: bytes, header: bool = True):
    """An uploaded CSV/TSV as a table of strings; the delimiter is detected (comma, tab, semicolon, bar).
    header=False: the first row is data, and the columns are named "column 1", "column 2", ..."""
    import csv
    import io

    import pandas as pd

    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{name}: not valid UTF-8 (byte {err.start}); save the file as UTF-8") from err
    if not content.strip():
        raise DataError(f"{name}: the file is empty")
    head = "\n".join(content.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(head, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        delimiter = "\t" if name.lower().endswith(".tsv") else ","
    try:
        frame = pd.read_csv(io.StringIO(content), sep=delimiter, dtype=str, keep_default_na=False,
                            header=0 if header else None)
    except pd.errors.ParserError as err:
        line = next((w for w in str(err).split() if w.rstrip(",").isdigit()), "?")
        raise DataError(f"{name}: rows have different numbers of {DELIMITERS[delimiter]}-separated fields "
                        f"(near line {line.rstrip(',')}); is the delimiter right, or is a text field unquoted?") from err
    if not header:
        frame.columns = [f"column {i + 1}" for i in range(frame.shape[1])]
    if frame.shape[1] < 1 or len(frame) == 0:
        raise DataError(f"{name}: no rows under the header")
    return frame


def header_looks_like_data(frame) -> bool:
    """Whether the header row read from a file is more likely its first data row: a column's name is one of the
    column's own values (a label "1" over labels 0/1), or a number over a column of whole numbers. Real headers
    name their columns ("label", "sentence")."""
    for column in frame.columns:
        name = str(column).strip()
        values = frame[column].astype(str).str.strip()
        if (values == name).any() and values.nunique() <= MAX_LABEL_VALUES:
            return True
        if name.lstrip("-").isdigit() and is_integer_column(values.tolist()):
            return True
    return False


def is_integer_column(values) -> bool:
    sample = [str(v).strip() for v in values[:500]]
    return bool(sample) and all(v.lstrip("-").isdigit() for v in sample)


def propose_columns(frame, label_names=None) -> tuple[list[str], str | None, str | None]:
    """(columns that can hold text, the proposed text column, the proposed label column) of an upload.

    Integer-only columns (ids, numeric labels) are never offered as text; the proposal is the text
    column with the longest values. The label column is one named like a label; failing that (a file
    without a header), a column of few distinct values that are all class indices or the model's label names.
    """
    text_options = [c for c in frame.columns if not is_integer_column(frame[c].tolist())]
    text = max(text_options, key=lambda c: frame[c].str.len().mean(), default=None)
    label = next((c for c in frame.columns if c.lower() in ("label", "labels", "class", "sentiment", "target")
                  and c != text), None)
    if label is None:
        for column in frame.columns:
            values = {str(v).strip() for v in frame[column]}
            if column == text or len(values) > MAX_LABEL_VALUES or len(values) > max(2, 0.5 * len(frame)):
                continue
            matched = match_labels(sorted(values), label_names) if label_names else {}
            if all(v.isdigit() for v in values) or (matched and None not in matched.values()):
                label = column
                break
    return text_options, text, label


def match_labels(values: list[str], label_names: list[str]) -> dict[str, str | None]:
    """The model label each file label most likely means (None: no guess): the same name in any case, a class
    index ("0", "1"), or a unique prefix either way ("pos" -> "positive", "Sci" -> "Sci/Tech")."""
    lowered = [n.lower() for n in label_names]
    out: dict[str, str | None] = {}
    for value in values:
        v = value.strip().lower()
        if v in lowered:
            out[value] = label_names[lowered.index(v)]
        elif v.isdigit() and int(v) < len(label_names):
            out[value] = label_names[int(v)]
        else:
            prefixed = [n for n, low in zip(label_names, lowered) if v and (low.startswith(v) or v.startswith(low))]
            out[value] = prefixed[0] if len(prefixed) == 1 else None
    return out


def check_label_column(frame, column: str, name: str) -> list[str]:
    """The distinct values of a label column; a column of free text is refused."""
    values = sorted({str(v).strip() for v in frame[column]})
    if len(values) > MAX_LABEL_VALUES or len(values) > 0.5 * len(frame) > 20:
        raise DataError(f"{name}: column {column!r} has {len(values):,} different values: it holds text, not labels")
    return values
