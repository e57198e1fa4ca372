"""Materials Project ingestion with a fake client replaying a recorded response. No network, no real key."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from matshift.ingest import materials_project as mp
from matshift.io import MaterialsProjectDataset, MaterialsProjectKeyError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mp_summary_response.json"
# Looks like a key, is not one; the tests check it never leaks anywhere.
FAKE_KEY = "Zx9TestKeyNotReal0123456789abcdef"


def _recorded_docs() -> list[dict[str, Any]]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["data"]


class FakeSummary:
    """Replays the recorded docs the way summary.search does: only the requested fields come back."""

    def __init__(self, as_objects: bool) -> None:
        self.as_objects = as_objects
        self.calls: list[dict[str, Any]] = []

    def search(self, fields: list[str] | None = None, **criteria: Any) -> list[Any]:
        self.calls.append({"fields": fields, **criteria})
        recorded = _recorded_docs()
        if "is_stable" in criteria:  # the only criterion the tests use
            recorded = [doc for doc in recorded if doc["is_stable"] == criteria["is_stable"]]
        docs = [{f: doc[f] for f in fields or doc} for doc in recorded]
        return [SimpleNamespace(**doc) for doc in docs] if self.as_objects else docs


class FakeClient:
    def __init__(self, as_objects: bool = False) -> None:
        self.materials = SimpleNamespace(summary=FakeSummary(as_objects))
        self.db_version = "constructed-for-tests"
        self.closed = False

    def __exit__(self, *exc: object) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def no_key_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(mp.API_KEY_ENV, raising=False)


@pytest.mark.parametrize("as_objects", [False, True], ids=["dicts", "doc-objects"])
def test_fetch_returns_one_row_per_material(as_objects: bool) -> None:
    client = FakeClient(as_objects=as_objects)

    frame = mp.fetch_mp_band_gaps(client, is_stable=True)

    assert list(frame.columns) == [
        "formula",
        "target",
        "material_id",
        "is_stable",
        "energy_above_hull",
        "is_gap_direct",
        "is_metal",
    ]
    assert len(frame) == 8 and frame["is_stable"].all()
    assert frame["target"].dtype == "float64"
    # Numeric id order, not string order ("mp-13" before "mp-149" before "mp-1143").
    assert frame["material_id"].tolist() == [
        "mp-13",
        "mp-149",
        "mp-390",
        "mp-804",
        "mp-1143",
        "mp-2133",
        "mp-2534",
        "mp-22862",
    ]
    row = frame.set_index("material_id").loc["mp-2534"]
    assert row["formula"] == "GaAs" and row["target"] == pytest.approx(0.19)
    call = client.materials.summary.calls[0]
    assert call["is_stable"] is True
    assert call["fields"][:3] == ["material_id", "formula_pretty", "band_gap"]


def test_fetch_with_real_document_model() -> None:
    # mp-api's own conversion (private helper) to MPDataDoc, so the attribute path is tested on the real
    # document class: material_id is an MPID there and must come out as "mp-149", not a serialized alias.
    schemas = pytest.importorskip("mp_api.client.core.schemas")
    summary = pytest.importorskip("emmet.core.summary")
    fields = list(mp.DEFAULT_FIELDS)
    docs = schemas._convert_to_model(_recorded_docs(), summary.SummaryDoc, requested_fields=fields)
    client = SimpleNamespace(materials=SimpleNamespace(summary=SimpleNamespace(search=lambda **_: docs)))

    frame = mp.fetch_mp_band_gaps(client)

    assert len(frame) == 10
    assert set(frame["material_id"]) == {doc["material_id"] for doc in _recorded_docs()}
    assert frame.loc[frame["material_id"] == "mp-149", "target"].item() == pytest.approx(0.61)


def test_missing_band_gap_becomes_nan() -> None:
    docs = [{"material_id": "mp-1", "formula_pretty": "X", "band_gap": None}]
    client = SimpleNamespace(materials=SimpleNamespace(summary=SimpleNamespace(search=lambda **_: docs)))
    frame = mp.fetch_mp_band_gaps(client, fields=("material_id",))
    assert list(frame.columns) == ["formula", "target", "material_id"]
    assert frame["target"].isna().all()


def test_key_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert mp.resolve_mp_api_key(None) is None
    assert mp.resolve_mp_api_key({"mp_api_key": "  "}) is None
    monkeypatch.setenv(mp.API_KEY_ENV, "from-env")
    assert mp.resolve_mp_api_key(None) == "from-env"
    assert mp.resolve_mp_api_key({"mp_api_key": "from-creds"}) == "from-creds"
    assert mp.resolve_mp_api_key("bare") == "bare"

    creds = tmp_path / "credentials.yml"
    creds.write_text("mp_api_key: from-file\n", encoding="utf-8")
    assert mp.read_credentials_file(creds) == {"mp_api_key": "from-file"}
    assert mp.read_credentials_file(tmp_path / "absent.yml") == {}


def test_client_factory_without_key_returns_none() -> None:
    assert mp.mp_client_from_credentials(None) is None
    assert mp.mp_client_from_credentials({}) is None


def test_client_factory_passes_key_only_to_mprester(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import mp_api.client

    seen: dict[str, Any] = {}

    class FakeMPRester:
        def __init__(self, api_key: str | None = None, **kwargs: Any) -> None:
            seen["api_key"] = api_key

    monkeypatch.setattr(mp_api.client, "MPRester", FakeMPRester)
    with caplog.at_level(logging.DEBUG):
        client = mp.mp_client_from_credentials({"mp_api_key": FAKE_KEY})

    assert isinstance(client, FakeMPRester) and seen["api_key"] == FAKE_KEY
    assert FAKE_KEY not in caplog.text


def test_client_errors_are_scrubbed_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import mp_api.client

    def failing(api_key: str | None = None, **kwargs: Any) -> None:
        raise ValueError(f"bad key {api_key}")

    monkeypatch.setattr(mp_api.client, "MPRester", failing)
    with pytest.raises(mp.MaterialsProjectError) as excinfo:
        mp.mp_client_from_credentials(FAKE_KEY)
    assert FAKE_KEY not in str(excinfo.value) and "***" in str(excinfo.value)


def _use_fake_client(monkeypatch: pytest.MonkeyPatch, client: FakeClient) -> list[Any]:
    """Route the dataset's client construction to ``client``; record the credentials it was given."""
    given: list[Any] = []

    def factory(credentials: Any) -> FakeClient | None:
        given.append(credentials)
        return client if mp.resolve_mp_api_key(credentials) else None

    monkeypatch.setattr(mp, "mp_client_from_credentials", factory)
    return given


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_dataset_fetches_once_then_uses_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str
) -> None:
    monkeypatch.setenv(mp.API_KEY_ENV, FAKE_KEY)
    client = FakeClient()
    _use_fake_client(monkeypatch, client)
    cache = tmp_path / "mp" / f"band_gaps{suffix}"
    dataset = MaterialsProjectDataset(str(cache), criteria={"is_stable": True}, credentials_path=None)

    first = dataset.load()
    second = dataset.load()

    assert len(client.materials.summary.calls) == 1  # the second load came from the cache
    assert client.closed
    pd.testing.assert_frame_equal(first, second, check_dtype=suffix == ".parquet")
    assert second["target"].dtype == "float64"
    meta = json.loads(cache.with_name(cache.name + ".meta.json").read_text())
    assert meta["rows"] == 8 and meta["query"]["criteria"] == {"is_stable": True}


def test_changed_query_refetches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(mp.API_KEY_ENV, FAKE_KEY)
    client = FakeClient()
    _use_fake_client(monkeypatch, client)
    cache = tmp_path / "band_gaps.parquet"

    MaterialsProjectDataset(str(cache), criteria={"is_stable": True}).load()
    frame = MaterialsProjectDataset(str(cache), criteria={"is_stable": False}).load()

    assert len(client.materials.summary.calls) == 2
    assert len(frame) == 2


def test_key_never_in_logs_repr_config_or_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = FakeClient()
    given = _use_fake_client(monkeypatch, client)
    cache = tmp_path / "band_gaps.csv"
    dataset = MaterialsProjectDataset(str(cache), credentials={"mp_api_key": FAKE_KEY})

    with caplog.at_level(logging.DEBUG):
        dataset.load()

    assert given == [{"mp_api_key": FAKE_KEY}]  # the key reached the client factory...
    # ...and nowhere else.
    assert FAKE_KEY not in caplog.text
    assert FAKE_KEY not in repr(dataset) and FAKE_KEY not in str(dataset)
    assert FAKE_KEY not in repr(dataset._init_config())
    for written in tmp_path.iterdir():
        assert FAKE_KEY not in written.read_text(encoding="utf-8")


def test_fetch_errors_are_scrubbed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(mp.API_KEY_ENV, FAKE_KEY)
    client = FakeClient()

    def boom(**_: Any) -> None:
        raise RuntimeError(f"server rejected x-api-key {FAKE_KEY}")

    client.materials.summary.search = boom
    _use_fake_client(monkeypatch, client)

    with pytest.raises(Exception) as excinfo:
        MaterialsProjectDataset(str(tmp_path / "c.parquet")).load()
    assert FAKE_KEY not in str(excinfo.value) and "rejected" in str(excinfo.value)
    assert not (tmp_path / "c.parquet").exists()


def test_key_from_credentials_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    creds = tmp_path / "credentials.yml"
    creds.write_text(f"mp_api_key: {FAKE_KEY}\n", encoding="utf-8")
    client = FakeClient()
    _use_fake_client(monkeypatch, client)

    frame = MaterialsProjectDataset(str(tmp_path / "c.parquet"), credentials_path=str(creds)).load()

    assert len(frame) == 10


def test_no_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = FakeClient()
    _use_fake_client(monkeypatch, client)
    cache = tmp_path / "band_gaps.parquet"

    with pytest.raises(MaterialsProjectKeyError) as excinfo:
        MaterialsProjectDataset(str(cache), credentials_path=str(tmp_path / "absent.yml")).load()

    message = str(excinfo.value)
    assert mp.API_KEY_ENV in message and "mp_api_key" in message and str(cache) in message
    assert client.materials.summary.calls == []


def test_existing_cache_needs_no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "band_gaps.parquet"
    monkeypatch.setenv(mp.API_KEY_ENV, FAKE_KEY)
    _use_fake_client(monkeypatch, FakeClient())
    MaterialsProjectDataset(str(cache)).load()

    monkeypatch.delenv(mp.API_KEY_ENV)
    offline = FakeClient()
    _use_fake_client(monkeypatch, offline)
    frame = MaterialsProjectDataset(str(cache), credentials_path=None).load()

    assert len(frame) == 10 and offline.materials.summary.calls == []
