"""Every bad CSV is one typed error with a one-line reason."""

import pytest

from skyloop.errors import InvalidDataset
from skyloop.training.dataset import DatasetLimits, load_dataset

from ..conftest import csv_bytes

GOOD_ROWS = [f"{i},{i % 7 * 1.5},{'a' if i % 2 else 'b'},{i % 2}" for i in range(40)]


def test_good_csv_is_classification_with_one_hot_column():
    ds = load_dataset(csv_bytes("x,y,kind,label", GOOD_ROWS))
    assert ds.task == "classification" and ds.target == "label"
    assert ds.numeric == ["x", "y"] and ds.categorical == {"kind": ["a", "b"]}
    assert ds.classes == [0, 1] and len(ds.sha256) == 64


def test_continuous_target_is_regression():
    rows = [f"{i},{i * 0.37 + 0.01}" for i in range(50)]
    assert load_dataset(csv_bytes("x,y", rows)).task == "regression"


@pytest.mark.parametrize(
    "data, target, fragment",
    [
        (b"", None, "empty"),
        (b"   \n", None, "empty"),
        (b"a,b,label\n", None, "no rows"),
        (csv_bytes("x,label", GOOD_ROWS and [f"{i},{i % 2}" for i in range(40)]), "missing", "target column 'missing'"),
        (csv_bytes("x,y,label", [f"{i},,{i % 2}" if i == 3 else f"{i},1.0,{i % 2}" for i in range(40)]), None, "missing value"),
        (csv_bytes("x,y,label", [f"{i},inf,{i % 2}" if i == 5 else f"{i},1.0,{i % 2}" for i in range(40)]), None, "non-finite"),
        (csv_bytes("x,y,label", [f"{i},abc,{i % 2}" if i == 7 else f"{i},{i}.5,{i % 2}" for i in range(40)]), None, "numeric but line 9 has text 'abc'"),
        (csv_bytes("x,label", [f"{i},1" for i in range(40)]), None, "single class"),
        (csv_bytes("x,label", [f"{i},{1 if i < 3 else 0}" for i in range(40)]), None, "need at least 5 per class"),
        (csv_bytes("x,x,label", [f"{i},{i},{i % 2}" for i in range(40)]), None, "duplicated column"),
        (csv_bytes("x,label", [f"{i},{i % 2}" for i in range(5)]), None, "need at least 10"),
        (b"x,label\n\xff\xfe,1\n", None, "UTF-8"),
        (b'x,label\n1,0\n2,"1\n', None, "does not parse"),
        (csv_bytes("only", ["1", "2"]), None, "at least one feature"),
        (csv_bytes("x,label", [f"{i},{i % 2}" for i in range(40)]) + b"9,1,7\n", None, "does not parse"),
        (csv_bytes("id,label", [f"u{i},{i % 2}" for i in range(80)]), None, "distinct values"),
        # bounded before parsing: one 5 MB cell once took training to 12.5 GB RSS
        pytest.param(csv_bytes("x,t,label", [f"{i},{'w' * (5_000_000 if i == 3 else 3)},{i % 2}" for i in range(300)]),
                     None, "line 5 is 5,000,004 bytes, above the 1,048,576-byte limit per row", id="5MB-row"),
        pytest.param(csv_bytes("x,t,label", [f"{i},{'w' * (70_000 if i == 8 else 3)},{i % 2}" for i in range(300)]),
                     None, "a field on line 10 is 70,000 bytes", id="70kB-field"),
        # a regression target near 1e308 once gave a raw traceback; a feature beyond float32 too
        (csv_bytes("x,y", [f"{i},{(-1) ** i * (0.5 + i / 100) * 1e308}" for i in range(40)]), None, "beyond ±1e+150"),
        (csv_bytes("x,label", [f"{1e300 if i == 4 else i},{i % 2}" for i in range(40)]), None,
         "column 'x' has 1e+300 at line 6, beyond ±3.4e+38"),
    ],
)
def test_bad_csv_gives_typed_one_line_error(data, target, fragment):
    with pytest.raises(InvalidDataset) as exc:
        load_dataset(data, target)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_size_limit():
    with pytest.raises(InvalidDataset, match="byte limit"):
        load_dataset(csv_bytes("x,label", [f"{i},{i % 2}" for i in range(40)]), limits=DatasetLimits(max_bytes=50))


def test_profile_has_schema_but_no_rows():
    ds = load_dataset(csv_bytes("x,y,kind,label", GOOD_ROWS))
    prof = ds.profile()
    assert prof["numeric"]["x"] == {"min": 0.0, "max": 39.0, "median": 19.5, "integer": True}
    assert prof["categorical"] == {"kind": ["a", "b"]}


def test_a_gzip_csv_is_read_and_a_bomb_or_truncation_refused():
    """Issue 15: `.csv.gz` uploads were ignored with no trace; now they train, bounded."""
    import gzip

    from skyloop.training.dataset import DatasetLimits, gunzip

    plain = b"a,b,y\n" + b"".join(b"%d,%d,%d\n" % (i, i * 2, i % 2) for i in range(50))
    ds = load_dataset(gzip.compress(plain))
    assert ds.target == "y" and len(ds.X) == 50
    bomb = gzip.compress(b"a,b,y\n" + b"0" * 5_000_000)
    with pytest.raises(InvalidDataset, match="inflates beyond"):
        load_dataset(bomb, limits=DatasetLimits(max_bytes=1_000_000))
    with pytest.raises(InvalidDataset, match="truncated"):
        gunzip(gzip.compress(plain)[:-12], 10_000)
    assert gunzip(plain, 10) == plain  # not gzip: passed through untouched
