"""Remote case-study files: cache, mirror, checksum errors and the offline message. No network."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from matshift import fetch as fetch_cli
from matshift.io import MIRROR_ENV, SourceChecksumError, SourceUnavailableError
from matshift.io.remote_files import RemoteFile, declared_remote_files, fetch, local_availability

CONTENT = b"FORMULA,PROPERTY: HV\nCo1 Ni1,150\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
UNREACHABLE = "http://127.0.0.1:9/MPEA_dataset.csv"  # discard port: refused at once, never the internet


def declaration(sha256: str = SHA) -> dict:
    return {
        "case_study": "alloys",
        "source": {
            "filepath": "data/01_raw/mpea_borg2020/MPEA_dataset.csv",
            "sha256": sha256,
            "url": UNREACHABLE,
            "mirror_name": "mpea_borg2020/MPEA_dataset.csv",
        },
    }


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "project"


@pytest.fixture
def mirror(tmp_path) -> Path:
    folder = tmp_path / "mirror"
    (folder / "mpea_borg2020").mkdir(parents=True)
    (folder / "mpea_borg2020" / "MPEA_dataset.csv").write_bytes(CONTENT)
    return folder


def remote(project: Path, sha256: str = SHA) -> RemoteFile:
    return RemoteFile.from_declaration("hea_hardness", declaration(sha256), project)


def test_only_declarations_with_a_url_or_mirror_are_remote(project):
    embedded = {"source": {"filepath": "data/01_raw/matbench/expt_gap.csv", "sha256": SHA}}
    found = declared_remote_files({"expt_gap": embedded, "hea_hardness": declaration()}, project)
    assert [r.dataset for r in found] == ["hea_hardness"]


def test_mirror_folder_resolves_and_fetch_caches_it(project, mirror, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    file = remote(project)
    assert local_availability(file) == "mirror"
    assert fetch(file).status == "fetched"
    assert file.filepath.read_bytes() == CONTENT
    assert local_availability(file) == "cached"
    assert fetch(file).status == "cached"


def test_checksum_mismatch_names_file_expected_and_actual(project, mirror, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    wrong = "0" * 64
    with pytest.raises(SourceChecksumError) as error:
        local_availability(remote(project, wrong))
    message = str(error.value)
    assert "MPEA_dataset.csv" in message and wrong in message and SHA in message
    with pytest.raises(SourceChecksumError, match=wrong):
        fetch(remote(project, wrong))
    assert not remote(project).filepath.exists()  # nothing half-written into the cache


def test_cached_file_with_wrong_content_is_an_error(project):
    file = remote(project)
    file.filepath.parent.mkdir(parents=True)
    file.filepath.write_bytes(CONTENT + b"tampered\n")
    with pytest.raises(SourceChecksumError, match="expected " + SHA):
        fetch(file)


def test_offline_without_mirror_is_skipped_with_where_to_get_it(project):
    file = remote(project)
    assert local_availability(file) is None
    result = fetch(file)
    assert result.status == "skipped"
    assert UNREACHABLE in result.detail  # where to get it
    assert str(file.filepath.resolve()) in result.detail  # where to put it
    assert MIRROR_ENV in result.detail and "mpea_borg2020/MPEA_dataset.csv" in result.detail


def test_loading_the_raw_dataset_offline_fails_with_the_same_message(project):
    with pytest.raises(SourceUnavailableError, match="Download it from"):
        remote(project).source_dataset().load()


def test_fetch_cli_reports_each_dataset(project, mirror, monkeypatch, capsys):
    declarations = {"hea_hardness": declaration(), "hea_offline": declaration()}
    declarations["hea_offline"]["source"] = {
        **declarations["hea_offline"]["source"],
        "filepath": "data/01_raw/other/file.csv",
        "mirror_name": "other/file.csv",
    }
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    monkeypatch.chdir(project.parent)
    monkeypatch.setattr("kedro.framework.startup.bootstrap_project", lambda path: None)
    monkeypatch.setattr("matshift.declarations.load_declarations", lambda env=None: declarations)
    assert fetch_cli.main([]) == 0
    out = capsys.readouterr().out
    assert "hea_hardness: fetched" in out
    assert "hea_offline: skipped" in out
