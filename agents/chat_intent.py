"""Chat understanding: what does the user's message ask for?

Three paths, and each turn says which one handled it:
- ``command``: explicit commands (``/optimize data.csv --target price --trials 30``), parsed
  deterministically; the session is always usable with them.
- ``rules``: keyword and pattern matching of plain language (intent words, built-in data set
  names, file paths, "N trials", "target X").
- ``llm``: the LLM reads the message into a validated request. A small model misreads intents,
  so its reading is kept only where the keyword rules have no opinion or agree, and entities it
  names (files, columns, data sets) must appear in the message: nothing is invented.
"""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from tunegraph.agents.llm_ask import ask_json, new_counts
from tunegraph.prompts import render
from tunegraph.tools.llm.client import LLMClient
from tunegraph.tools.ml.models import FAMILIES
from tunegraph.tools.ml.tasks import BUILTIN_DATASETS

INTENTS = ("optimize", "recommend", "explain", "lookup", "status", "save", "predict", "stop", "continue", "help",
           "unknown")

HELP = """Ask in plain language, or use a command:
  /optimize [DATA] [--target COL] [--model FAMILY] [--trials N] [--metric M]   tune a model (DATA: a built-in data set or a CSV/Parquet file)
  /recommend [DATA] [--target COL] [--families F ...] [--evaluate]             zero-shot recommendation, no trials
  /explain [PARAM or question]     why a value was chosen, from the recorded evidence and reasoning
  /lookup TEXT                     past experiments closest to TEXT (e.g. "knn on small data")
  /status [STUDY]                  the best trial so far
  /save [PATH]                     save the last run's model (refit on all rows) to PATH
  /predict FILE [--out PATH]       predict FILE's rows with the last run's model, as a CSV
  /continue [--trials N]           resume the last optimization with N more trials (default 10)
  /stop                            how to stop a run (Ctrl-C stops it after the current trial)
  /help, /quit
Left out, the data, model and budget are the ones this conversation is about: after a recommendation, "tune it
with 8 trials" runs the recommended model on that data, starting from the recommended configuration; "try knn
instead", "run 5 more trials" and "why that max_depth?" refer to the last run.
Built-in data sets: """ + ", ".join(BUILTIN_DATASETS) + ". Model families: " + ", ".join(FAMILIES) + "."


class ChatRequest(BaseModel):
    """One turn's request; every field but ``intent`` optional."""

    intent: Literal["optimize", "recommend", "explain", "lookup", "status", "save", "predict", "stop", "continue",
                    "help", "unknown"]
    dataset: str | None = None  # a built-in data set
    data_path: str | None = None  # or a file
    target: str | None = None
    model: str | None = None
    metric: str | None = None
    trials: int | None = Field(default=None, ge=1, le=10_000)
    families: list[str] | None = None
    evaluate: bool = False
    study_name: str | None = None
    question: str | None = None
    path: str | None = None  # where to save the model, or the predictions
    error: str | None = None  # a command that could not be parsed: the reply says why


class _CommandParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit the chat
        raise ValueError(message)


def _command_parser(intent: str) -> _CommandParser:
    parser = _CommandParser(prog=f"/{intent}", add_help=False)
    if intent in ("optimize", "recommend"):
        parser.add_argument("data", nargs="?")
        parser.add_argument("--target")
        parser.add_argument("--metric")
    if intent == "optimize":
        parser.add_argument("--model")
        parser.add_argument("--trials", type=int)
        parser.add_argument("--study")
    if intent == "recommend":
        parser.add_argument("--families", nargs="+")
        parser.add_argument("--evaluate", action="store_true")
    if intent == "continue":
        parser.add_argument("--trials", type=int)
        parser.add_argument("study", nargs="?")
    if intent == "status":
        parser.add_argument("study", nargs="?")
    if intent in ("explain", "lookup"):
        parser.add_argument("question", nargs="*")
    if intent == "save":
        parser.add_argument("path", nargs="?")
    if intent == "predict":
        parser.add_argument("data", nargs="?")
        parser.add_argument("--out", dest="path")
    return parser


def parse_command(text: str) -> ChatRequest:
    """``/intent args``: deterministic; a bad command gives ``intent='help'`` with an error."""
    try:
        words = shlex.split(text[1:])
    except ValueError as exc:
        return ChatRequest(intent="help", error=f"cannot read the command: {exc}")
    name = (words[0].lower() if words else "")
    if name not in INTENTS or name == "unknown":
        return ChatRequest(intent="help", error=f"unknown command '/{name}'")
    try:
        args = _command_parser(name).parse_args(words[1:])
    except ValueError as exc:
        return ChatRequest(intent="help", error=f"/{name}: {exc}")
    fields: dict[str, Any] = {"intent": name}
    data = getattr(args, "data", None)
    if data:
        fields.update(_data_reference(data))
    for key in ("target", "metric", "model", "trials", "families"):
        if getattr(args, key, None) is not None:
            fields[key] = getattr(args, key)
    fields["evaluate"] = bool(getattr(args, "evaluate", False))
    if getattr(args, "path", None):
        fields["path"] = args.path
    study = getattr(args, "study", None)
    if study:
        fields["study_name"] = study
    if name in ("explain", "lookup"):
        fields["question"] = " ".join(args.question) or None
    try:
        return ChatRequest(**fields)
    except ValidationError as exc:
        return ChatRequest(intent="help", error=f"/{name}: {exc.errors()[0]['msg']}")


def _data_reference(word: str) -> dict[str, str]:
    name = word.lower().replace(" ", "_")
    return {"dataset": name} if name in BUILTIN_DATASETS else {"data_path": word}


# --- plain language: rules ----------------------------------------------------------------------
_INTENT_WORDS = [  # first match wins: "why did you choose ... for the best trial" is an explanation
    ("explain", r"\b(why|explain|reason|justif\w*)\b"),
    ("save", r"\b(save|export|store|download)\b.*\bmodel\b|\bsave (it|that)\b"),
    ("predict", r"^\s*predict\b|\bpredict(ions?)? (for|on|of|with)\b|\bpredict\s+\S+\.(csv|parquet|pq|tsv|txt)\b"),
    ("lookup", r"\b(what (has |have )?(worked|works|did well)|past (experiments?|runs?|results)|"
               r"(experiments?|runs?) (like|with|on)|similar (data ?sets?|tasks|experiments))\b"),
    ("stop", r"\b(stop|cancel|abort|halt)\b"),
    ("continue", r"\b(continue|resume|keep going|(\d+ )?more (trials?|iterations?)|run \d+ more|going again|"
                 r"carry on)\b"),
    ("help", r"^\s*(help|\?)\s*$|\bwhat can you do\b|\bhow do i\b"),
    ("recommend", r"\b(recommend\w*|suggest\w*|which (model|settings|hyper-?parameters|parameters|configuration)|"
                  r"what (model|settings|hyper-?parameters|parameters|configuration)|zero[- ]shot|advice|advise)\b"),
    ("optimize", r"\b(tune|tuning|optimi[sz]\w*|search|hyper-?parameter search|train|fit|find (good|the best|better))\b"),
    ("status", r"\b(status|progress|best (trial|score|so far|result)|how is (it|the run|the study) going|"
               r"how are we doing|results? so far)\b"),
]
_FILE = re.compile(r"""(?:^|[\s'"(])((?:[\w.~\-/\\]+)\.(?:csv|parquet|pq|tsv|txt))\b""", re.IGNORECASE)
_DESTINATION = re.compile(r"""\b(?:to|into|as|at)\s+['"]?([\w.~\-]*[/\\.][\w.~\-/\\]*)""")  # "to models/a.tgm"
_TRIALS = re.compile(r"\b(\d{1,5})\s*(?:(?:more|extra|additional|further)\s+)?"
                     r"(?:trials?|iterations?|evaluations?|configurations?)\b|"
                     r"\bbudget\s*(?:of\s*)?(\d{1,5})\b", re.IGNORECASE)
_TARGET = re.compile(r"\b(?:target(?:\s+column)?|predict(?:ing)?|column|label)\s*(?:is|=|:)?\s*['\"`]?([A-Za-z_][\w.\-]*)",
                     re.IGNORECASE)
_MODEL_ALIASES = {
    "xgboost": "xgboost", "xgb": "xgboost", "lightgbm": "lightgbm", "lgbm": "lightgbm", "random forest": "random_forest", "random_forest": "random_forest",
    "extra trees": "extra_trees", "extra_trees": "extra_trees", "gradient boosting": "hist_gradient_boosting",
    "hist_gradient_boosting": "hist_gradient_boosting", "logistic regression": "logistic_regression",
    "logistic_regression": "logistic_regression", "ridge": "ridge", "knn": "knn", "nearest neighbo": "knn",
    "svm": "svm", "mlp": "mlp", "neural net": "mlp",
}
_SWITCH = r"\b(try|instead|switch(ing)? to|go with|how about|what about)\b"
_NOT_TARGETS = {"the", "a", "an", "it", "this", "that", "column", "with", "for", "of", "in", "on", "is"}


def parse_rules(text: str) -> tuple[str | None, dict[str, Any]]:
    """Intent (None when no keyword matches) and the entities found in the text."""
    lowered = text.lower()
    intent = next((name for name, pattern in _INTENT_WORDS if re.search(pattern, lowered)), None)
    entities = extract_entities(text)
    if intent is None and "trials" in entities and (entities.get("dataset") or entities.get("data_path")):
        intent = "optimize"  # "houses.csv, 25 trials": a budget and data mean a run
    if intent is None and "model" in entities and re.search(_SWITCH, lowered):
        intent = "optimize"  # "try random forest instead": the same data (the conversation's), another family
    return intent, entities


def extract_entities(text: str) -> dict[str, Any]:
    lowered = text.lower()
    found: dict[str, Any] = {}
    if match := _FILE.search(text):
        found["data_path"] = match.group(1)
    else:
        for name in BUILTIN_DATASETS:
            if re.search(rf"\b{name.replace('_', '[ _]')}\b", lowered):
                found["dataset"] = name
                break
    if match := _DESTINATION.search(text):
        found["path"] = match.group(1)
    if match := _TRIALS.search(text):
        found["trials"] = int(match.group(1) or match.group(2))
    if match := _TARGET.search(text):
        if match.group(1).lower() not in _NOT_TARGETS:
            found["target"] = match.group(1)
    for alias, family in _MODEL_ALIASES.items():
        if alias in lowered and family in FAMILIES:
            found["model"] = family
            break
    return found


# --- plain language: the LLM --------------------------------------------------------------------
def _schema() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "intent": {"type": "string", "enum": list(INTENTS)},
        "data": {"type": "string"}, "target": {"type": "string"}, "model": {"type": "string"},
        "trials": {"type": "integer"}}, "required": ["intent"]}


def parse_with_llm(llm: LLMClient, text: str, retries: int, counts: dict[str, float]) -> tuple[str | None, dict]:
    """The LLM's reading: an intent and the entities it names that really occur in ``text``."""
    prompt = render("chat", message=text.replace("\n", " ")[:1000], intents=", ".join(INTENTS),
                    datasets=", ".join(BUILTIN_DATASETS), families=", ".join(FAMILIES))

    def accept(data: dict) -> dict:
        if data.get("intent") not in INTENTS:
            raise ValueError(f"intent must be one of {', '.join(INTENTS)}")
        return data

    answer, _ = ask_json(llm, prompt, _schema(), accept, retries, counts, max_tokens=96)
    if answer is None:
        return None, {}
    lowered = text.lower()
    entities: dict[str, Any] = {}
    data = str(answer.get("data") or "").strip()
    if data and data.lower() in lowered:
        entities.update(_data_reference(data))
    for key in ("target", "model"):
        value = str(answer.get(key) or "").strip()
        if value and value.lower() in lowered and value.lower() != data.lower():
            entities[key] = value if key == "target" else _MODEL_ALIASES.get(value.lower(), value.lower())
    trials = answer.get("trials")
    if isinstance(trials, int) and str(trials) in text:
        entities["trials"] = trials
    return answer["intent"], entities


def understand(text: str, llm: LLMClient | None, retries: int = 1) -> tuple[ChatRequest, str, dict[str, float]]:
    """The request in ``text``, the path that read it (command | rules | llm) and LLM counts."""
    counts = new_counts()
    text = text.strip()
    if text.startswith("/"):
        return parse_command(text), "command", counts
    rule_intent, entities = parse_rules(text)
    intent, path = rule_intent, "rules"
    if rule_intent is None and llm is not None:  # the LLM reads what the patterns cannot
        llm_intent, llm_entities = parse_with_llm(llm, text, retries, counts)
        if llm_intent and llm_intent != "unknown":
            intent, path = llm_intent, "llm"
            entities = {**llm_entities, **entities}  # the patterns' reading wins where both found one
    intent = intent or "unknown"
    fields = {k: v for k, v in entities.items() if k in ChatRequest.model_fields}
    if intent in ("explain", "lookup"):
        fields["question"] = text
    try:
        # model_validate: ``intent`` is a plain str here, checked against the Literal by pydantic
        return ChatRequest.model_validate({"intent": intent, **fields}), path, counts
    except ValidationError as exc:
        return ChatRequest(intent="help", error=str(exc.errors()[0]["msg"])), path, counts
