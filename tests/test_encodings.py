"""CSV files that are not UTF-8 (Latin-1 and cp1252, as Excel writes semicolon / decimal-comma files),
``--encoding``, and files that are no table at all: read right, or refused in one line with exit 2."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from tunegraph.cli import main
from tunegraph.tools.ml.tasks import NOT_A_TABLE, TaskError, TextEncodingNote, read_table, text_encoding

OPTIMIZE = ["--model", "knn", "--trials", "2", "--folds", "3", "--llm", "none", "--no-learn", "--quiet"]
COLUMNS = ["Größe", "Gewicht", "Farbe", "Qualität"]


def fruit(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A German spreadsheet's table: umlauts in the names and in the categories, decimals to write with a comma."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(1, 10, n).round(2)
    return pd.DataFrame({"Größe": size, "Gewicht": (size * 0.3 + rng.normal(0, 0.1, n)).round(3),
                         "Farbe": rng.choice(["grün", "weiß", "gelb"], n),
                         "Qualität": np.where(size > 5.5, "süß", "sauer")})


def write_excel_csv(frame: pd.DataFrame, path: Path, encoding: str) -> Path:
    """As Excel saves "CSV (semicolon)" in a German locale: semicolons, decimal commas, an 8-bit encoding."""
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding=encoding)
    raw = path.read_bytes()
    assert b"\xfc" in raw and b"\xc3" not in raw  # really 8-bit (ü), not UTF-8
    return path


def read_noting(path: Path, **kwargs) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_table(path, **kwargs)
    return frame, [str(w.message) for w in caught if issubclass(w.category, TextEncodingNote)]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_an_8bit_semicolon_decimal_comma_file_reads_with_its_umlauts_and_a_note(tmp_path, encoding):
    expected = fruit()
    path = write_excel_csv(expected, tmp_path / "obst.csv", encoding)
    frame, notes = read_noting(path)
    assert list(frame.columns) == COLUMNS
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)  # 4,25 read as 4.25, "grün" as grün
    # latin-1 and cp1252 decode these bytes alike; the note names the one used
    assert notes == ["data file obst.csv is not UTF-8: read as cp1252 (detected)"]
    frame, notes = read_noting(path, encoding="latin-1")  # given: used as given, nothing to say
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    assert notes == []


def test_cp1252_only_characters_and_other_unicode_files(tmp_path):
    frame = fruit(20).rename(columns={"Gewicht": "Preis €"}).assign(Farbe="„rot“")  # 0x80, 0x84, 0x93: cp1252's own
    path = write_excel_csv(frame, tmp_path / "preise.csv", "cp1252")
    read, notes = read_noting(path)
    assert list(read.columns) == ["Größe", "Preis €", "Farbe", "Qualität"] and set(read["Farbe"]) == {"„rot“"}
    assert "read as cp1252" in notes[0]
    for encoding in ("utf-8", "utf-8-sig", "utf-16"):  # UTF-8, or a byte-order mark: no note
        frame.to_csv(tmp_path / "u.csv", sep=";", decimal=",", index=False, encoding=encoding)
        read, notes = read_noting(tmp_path / "u.csv")
        assert list(read.columns) == list(frame.columns) and notes == [], encoding
    frame.to_csv(tmp_path / "le.csv", index=False, encoding="utf-16-le")  # no mark: every other byte NUL, still text
    read, notes = read_noting(tmp_path / "le.csv")
    assert list(read.columns) == list(frame.columns) and "read as utf-16-le" in notes[0]
    frame.to_parquet(tmp_path / "renamed.csv")  # Parquet by its signature, whatever the name
    assert list(read_table(tmp_path / "renamed.csv").columns) == list(frame.columns)


def test_a_wrong_or_unknown_encoding_is_said(tmp_path):
    path = tmp_path / "utf8.csv"
    fruit(20).to_csv(path, index=False, encoding="utf-8")
    with pytest.raises(TaskError, match="unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")
    path.write_bytes("Größe;Qualität\n1;süß\n2;sauer\n".encode("latin-1"))
    with pytest.raises(TaskError, match=r"cannot read .*utf8.csv as CSV in utf-8: 'utf-8' codec can't decode"):
        read_table(path, encoding="utf-8")


def not_tables(folder: Path) -> dict[str, Path]:
    png = folder / "chart.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("xl/workbook.xml", "<workbook/>" * 50)
    workbook = folder / "book.csv"
    workbook.write_bytes(archive.getvalue())
    noise = folder / "noise.csv"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return {"a PNG image": png, "a ZIP archive": workbook, "binary data": noise}


def test_a_binary_file_is_not_a_table(tmp_path):
    for what, path in not_tables(tmp_path).items():
        with pytest.raises(TaskError, match=f"{path.name} {NOT_A_TABLE}: it looks like {what}"):
            read_table(path)
        with pytest.raises(TaskError, match=NOT_A_TABLE):
            text_encoding(path, "latin-1")  # an encoding given does not make it text


def test_optimize_and_recommend_refuse_a_binary_file_with_exit_2(capsys, tmp_path):
    for what, path in not_tables(tmp_path).items():
        for command in (["optimize", *OPTIMIZE, "--no-model"], ["recommend", "--llm", "none"]):
            assert main([*command, "--data", str(path), "--target", "y"]) == 2, (command, what)
            err = capsys.readouterr().err
            assert f"tunegraph: error: {path} {NOT_A_TABLE}: it looks like {what}" in err, err
            assert "codec" not in err and "Traceback" not in err
    assert not Path(".tunegraph", "studies.db").exists()  # refused before any study was made


def study_of(out: Path) -> optuna.Study:
    result = json.loads(out.read_text())
    return optuna.load_study(study_name=result["study"], storage="sqlite:///.tunegraph/studies.db")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_optimize_reads_an_excel_csv_in_its_encoding(capsys, tmp_path, encoding):
    path = write_excel_csv(fruit(), tmp_path / "obst.csv", encoding)
    code = main(["optimize", "--data", str(path), "--target", "Qualität", *OPTIMIZE, "--no-model", "--out", "r.json"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "tunegraph: note: data file obst.csv is not UTF-8: read as cp1252 (detected); --encoding NAME" in err
    study = study_of(Path("r.json"))
    assert study.user_attrs["target"] == "Qualität" and len(study.trials) == 2
    features = study.user_attrs["meta_features"]  # 60 rows, Größe and Gewicht as numbers (decimal comma), Farbe a category
    assert (features["n_rows"], features["n_numeric"], features["n_categorical"]) == (60, 2, 1)
    assert json.loads(Path("r.json").read_text())["best_value"] > 0.9  # sweet above 5.5: the sizes were read right


def test_encoding_given_is_what_the_run_reads_and_predict_takes_one_too(capsys, tmp_path):
    utf8 = tmp_path / "utf8.csv"
    fruit().to_csv(utf8, sep=";", decimal=",", index=False, encoding="utf-8")
    # --encoding wins over detection, down to the run's loader: UTF-8 bytes read as Latin-1 are other names
    assert main(["optimize", "--data", str(utf8), "--target", "Qualität", "--encoding", "latin-1", *OPTIMIZE,
                 "--no-model"]) == 2
    err = capsys.readouterr().err
    assert "target column 'Qualität' not found; columns are: " in err and "QualitÃ¤t" in err, err

    latin = write_excel_csv(fruit(), tmp_path / "obst.csv", "latin-1")
    code = main(["optimize", "--data", str(latin), "--target", "Qualität", "--encoding", "latin-1", *OPTIMIZE,
                 "--save-model", "obst.tgm", "--out", "r.json"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "not UTF-8" not in err  # given, not detected: nothing to say
    assert study_of(Path("r.json")).user_attrs["target"] == "Qualität"

    new = fruit(12, seed=1)
    write_excel_csv(new.drop(columns=["Qualität"]), tmp_path / "neu.csv", "cp1252")
    for extra, note in (([], True), (["--encoding", "cp1252"], False)):
        assert main(["predict", "--model", "obst.tgm", "--data", str(tmp_path / "neu.csv"), "--out", "p.csv",
                     *extra]) == 0
        err = capsys.readouterr().err
        assert ("tunegraph: note: data file neu.csv is not UTF-8: read as cp1252 (detected)" in err) == note, err
        predicted = pd.read_csv("p.csv")
        assert list(predicted.columns[:4]) == ["Größe", "Gewicht", "Farbe", "prediction"]
        assert {"proba_süß", "proba_sauer"} <= set(predicted.columns)
        assert set(predicted["Farbe"]) <= {"grün", "weiß", "gelb"}
        assert (predicted["prediction"] == new["Qualität"]).mean() >= 0.75
    for command in (["predict", "--model", "obst.tgm"], ["optimize", *OPTIMIZE, "--target", "Qualität"]):
        assert main([*command, "--data", str(latin), "--encoding", "klingon"]) == 2
        assert "unknown encoding 'klingon'" in capsys.readouterr().err


def test_the_graphs_inputs_carry_the_encoding(tmp_path):
    from tunegraph.agents.retriever import load_user_task
    from tunegraph.api import data_inputs

    path = write_excel_csv(fruit(), tmp_path / "obst.csv", "latin-1")
    with data_inputs(None, path, "Qualität", None, "latin-1") as inputs:
        assert inputs["encoding"] == "latin-1"
    task = load_user_task({"data_path": str(path), "target": "Qualität", "encoding": "latin-1"})
    assert task.target == "Qualität" and list(task.X.columns) == ["Größe", "Gewicht", "Farbe"]
    fruit().to_csv(tmp_path / "u.csv", index=False)  # UTF-8, read as the Latin-1 given
    with pytest.raises(TaskError, match="not found; columns are: .*QualitÃ¤t"):
        load_user_task({"data_path": str(tmp_path / "u.csv"), "target": "Qualität", "encoding": "latin-1"})
