"""CPR numbers -> keyed pseudonyms (HMAC-SHA256), key loading and key generation.

A CPR number is accepted as ``DDMMYY-SSSS``, ``DDMMYYSSSS`` or with spaces anywhere. The
date part and the century digit (the 7th digit) are validated; the modulus-11 check is
*not* required (numbers issued since 2007 may fail it). The pseudonym is the first 16 hex
characters (64 bits) of ``HMAC-SHA256(key, <the 10 digits>)``, so the same person gets the
same pseudonym in every file and every later delivery made with the same key. A plain hash
of a CPR number would not be a pseudonym: the space of numbers is small enough to try all.

Nothing here ever puts a CPR number or a pseudonym into an exception message or a log.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from envejind_eval.errors import EnvejindWarning, IngestError

ENV_VAR = "ENVEJIND_PSEUDONYM_KEY"
PSEUDONYM_LENGTH = 16
KEY_BYTES = 32

#: Reasons a CPR value is not usable (rule -> message).
CPR_RULES: dict[str, str] = {
    "cpr_leading_zero_lost": (
        "CPR number has 9 digits: the leading zero was probably lost in Excel "
        "(format the column as text and deliver the file again)"
    ),
    "cpr_invalid_format": "value is not a CPR number (expected DDMMYY-SSSS or DDMMYYSSSS)",
    "cpr_invalid_date": "CPR number has an impossible birth date for its century digit",
    "cpr_in_column": (
        "a CPR-shaped value outside the CPR column (a CPR number belongs only there); the "
        "row is quarantined and the value masked"
    ),
}

_CPR_RX = re.compile(r"^(\d{6})-?(\d{4})$", re.ASCII)
_NINE_RX = re.compile(r"^\d{5}-?\d{4}$", re.ASCII)
_WS = re.compile(r"\s+")
#: What replaces CPR-shaped text in delivered values (free text, quarantine files).
REDACTED = "[CPR fjernet]"
#: ... and a whole free-text value shaped like a personal name.
REDACTED_NAME = "[navn fjernet]"
#: What replaces a CPR-shaped part of a file, sheet or column name wherever it is shown.
NAME_MASK = "XXXXXX-XXXX"


def default_key_path() -> Path:
    """``$XDG_CONFIG_HOME/envejind_eval/pseudonym.key`` (default ``~/.config/...``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "envejind_eval" / "pseudonym.key"


def key_fingerprint(key: bytes) -> str:
    """A short one-way fingerprint of the key (HMAC of a fixed label): tells two keys apart
    in a report's manifest without revealing anything about either.

    >>> key_fingerprint(bytes(32)) == key_fingerprint(bytes(32)) != key_fingerprint(b"1" * 32)
    True
    """
    return (
        "hmac-sha256:"
        + hmac.new(key, b"envejind_eval key fingerprint v1", "sha256").hexdigest()[:16]
    )


def _century(yy: int, digit7: int) -> int:
    if digit7 <= 3:
        return 1900
    if digit7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800  # 5-8


def normalise_cpr(value: str, *, today: _dt.date | None = None) -> tuple[str | None, str | None]:
    """Return ``(ten_digits, None)`` for a valid CPR number, else ``(None, rule)``.

    ``rule`` is one of :data:`CPR_RULES`. The birth date must exist in the century given
    by the 7th digit and must not lie in the future.
    """
    s = _WS.sub("", str(value))
    m = _CPR_RX.match(s)
    if m is None:
        if _NINE_RX.match(s):
            return None, "cpr_leading_zero_lost"
        return None, "cpr_invalid_format"
    digits = m.group(1) + m.group(2)
    dd, mm, yy, d7 = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    try:
        born = _dt.date(_century(yy, d7) + yy, mm, dd)
    except ValueError:
        return None, "cpr_invalid_date"
    if born > (today or _dt.date.today()):
        return None, "cpr_invalid_date"
    return digits, None


def birth_year_and_sex(digits: str) -> tuple[int, str]:
    """Birth year and sex in a valid 10-digit CPR number, as the CPR office defines them:
    the century from the 7th digit and the year digits (:func:`_century`), the sex from
    the last digit (odd = male, even = female)."""
    yy, d7 = int(digits[4:6]), int(digits[6])
    return _century(yy, d7) + yy, "male" if int(digits[9]) % 2 else "female"


def looks_like_cpr(value: str) -> bool:
    """True for values shaped like a CPR number (10 digits, optional hyphen/spaces)."""
    s = _WS.sub("", str(value))
    return bool(_CPR_RX.match(s))


def pseudonym(digits: str, key: bytes) -> str:
    """Keyed pseudonym of a normalised (10-digit) CPR number."""
    return hmac.digest(key, digits.encode("ascii"), "sha256").hex()[:PSEUDONYM_LENGTH]


def normalise_many(values: Sequence[str]) -> tuple[list[str | None], list[str | None]]:
    """Vectorised :func:`normalise_cpr` over many (unique) values: ``(digits, rules)``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    if n == 0:
        return [], []
    stripped = [v if (v.isprintable() and " " not in v) else _WS.sub("", v) for v in values]
    # the shape checks run in pyarrow (ASCII digits, as the re.ASCII patterns above)
    arr = pa.array(stripped, pa.string())
    ten = pc.match_substring_regex(arr, r"^[0-9]{6}-?[0-9]{4}$").to_numpy(zero_copy_only=False)
    nine = pc.match_substring_regex(arr, r"^[0-9]{5}-?[0-9]{4}$").to_numpy(zero_copy_only=False)
    rules = np.where(nine, "cpr_leading_zero_lost", "cpr_invalid_format").astype(object)
    digits = np.full(n, None, dtype=object)
    ok_idx = np.flatnonzero(ten)
    if not len(ok_idx):
        return digits.tolist(), rules.tolist()
    ok_dig = pc.replace_substring(arr.filter(pa.array(ten)), "-", "").to_pylist()
    arr10 = np.frombuffer("".join(ok_dig).encode("ascii"), dtype=np.uint8).reshape(-1, 10) - 48
    arr10 = arr10.astype(np.int64)
    dd = arr10[:, 0] * 10 + arr10[:, 1]
    mm = arr10[:, 2] * 10 + arr10[:, 3]
    yy = arr10[:, 4] * 10 + arr10[:, 5]
    d7 = arr10[:, 6]
    century = np.where(
        d7 <= 3,
        1900,
        np.where(
            (d7 == 4) | (d7 == 9), np.where(yy <= 36, 2000, 1900), np.where(yy <= 57, 2000, 1800)
        ),
    )
    year = century + yy
    okm = (mm >= 1) & (mm <= 12)
    month = ((year - 1970) * 12 + np.clip(mm, 1, 12) - 1).astype("datetime64[M]")
    first = month.astype("datetime64[D]")
    dim = ((month + 1).astype("datetime64[D]") - first).astype(np.int64)
    okd = okm & (dd >= 1) & (dd <= dim)
    born = first + (np.clip(dd, 1, 31) - 1).astype("timedelta64[D]")
    okd &= born <= np.datetime64(_dt.date.today(), "D")
    good = ok_idx[okd]
    digits[good] = np.array(ok_dig, dtype=object)[okd]
    rules[good] = None
    rules[ok_idx[~okd]] = "cpr_invalid_date"
    return digits.tolist(), rules.tolist()


def pseudonymise(values: Sequence[str], key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Pseudonymise unique CPR values.

    Returns ``(pseudonyms, rules)``: object arrays aligned with ``values``; a pseudonym is
    ``None`` where the value is not a valid CPR number and ``rules`` then names why.
    Call it on the *unique* values of a column and map back by position: HMAC runs once
    per person, not once per row.
    """
    digits, rules = normalise_many(list(values))
    # the key is absorbed once; copying the keyed state per value costs a third less than
    # ``hmac.digest`` per value
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    n = PSEUDONYM_LENGTH

    def one(d: str) -> str:
        h = keyed.copy()
        h.update(d.encode("ascii"))
        return h.hexdigest()[:n]

    out = [None if d is None else one(d) for d in digits]
    return np.array(out, dtype=object), np.array(rules, dtype=object)


def redact_cpr(text: str) -> tuple[str, int]:
    """Replace CPR-shaped text with ``[CPR fjernet]``; return the text and the count.

    The shape is the leak scan's (:func:`envejind_eval.disclosure.scan.redact_cpr`), so
    what ingestion leaves in place the scan does not flag, and the other way round.
    """
    from envejind_eval.disclosure.scan import redact_cpr as _redact

    new = _redact(text, REDACTED)
    return new, new.count(REDACTED) - text.count(REDACTED)


# -- keys -----------------------------------------------------------------------------------


def _parse_key_text(text: str, where: str) -> bytes:
    t = text.strip()
    if not re.fullmatch(r"[0-9a-fA-F]{32,}", t) or len(t) % 2:
        raise IngestError(
            f"the pseudonym key from {where} is not a hex string of at least 32 digits; "
            "make a new key with `envejind-eval keygen`"
        )
    return bytes.fromhex(t)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def _git_root(path: Path) -> Path | None:
    p = path.resolve()
    for d in (p, *p.parents):
        if (d / ".git").exists():
            return d
    return None


def load_key(
    key: bytes | str | os.PathLike[str] | None = None, *, data_dir: Path | None = None
) -> bytes:
    """Resolve the pseudonym key.

    Order: the ``key`` argument (bytes; a hex string; or a path to a key file), the
    ``ENVEJIND_PSEUDONYM_KEY`` environment variable (hex), then the default key file
    (:func:`default_key_path`). A key file inside the delivery folder or the repository is
    refused. Raises :class:`IngestError` telling the user to run ``envejind-eval keygen``
    when no key is found.
    """
    if isinstance(key, bytes | bytearray):
        if len(key) < 16:
            raise IngestError("the pseudonym key must be at least 16 bytes long")
        return bytes(key)
    if isinstance(key, str) and re.fullmatch(r"[0-9a-fA-F]{32,}", key.strip()):
        return _parse_key_text(key, "the key argument")
    if key is not None:
        return _read_key_file(Path(key), data_dir=data_dir)
    env = os.environ.get(ENV_VAR)
    if env:
        return _parse_key_text(env, f"${ENV_VAR}")
    path = default_key_path()
    if path.exists():
        return _read_key_file(path, data_dir=data_dir)
    raise IngestError(
        "the delivery contains CPR numbers but no pseudonym key was found "
        f"(set ${ENV_VAR}, pass key=..., or create {path}); "
        "make one with `envejind-eval keygen` and keep it outside the repository and the data "
        "folder -- the same key must be used for every later delivery"
    )


def _read_key_file(path: Path, *, data_dir: Path | None) -> bytes:
    if data_dir is not None and _inside(path, data_dir):
        raise IngestError(
            f"{path.name}: the pseudonym key file lies inside the data folder; move it "
            f"elsewhere (default {default_key_path()})"
        )
    if _inside(path, _repo_root()) and (_repo_root() / "pyproject.toml").exists():
        raise IngestError(
            f"{path.name}: the pseudonym key file lies inside the repository; move it "
            f"elsewhere (default {default_key_path()})"
        )
    try:
        text = path.read_text(encoding="ascii")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(
            f"cannot read the pseudonym key file {path} ({type(exc).__name__})"
        ) from None
    if os.name == "posix" and mode & 0o077:
        warnings.warn(
            f"the pseudonym key file {path} is readable by other users; chmod 600 it",
            EnvejindWarning,
            stacklevel=3,
        )
    return _parse_key_text(text, str(path))


def keygen(out: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
    """Write a new random 256-bit pseudonym key (hex) to a file readable by its owner only.

    Parameters
    ----------
    out
        Key file path; default :func:`default_key_path`.
    force
        Overwrite an existing key file. Losing a key means later deliveries get other
        pseudonyms, so the default refuses.

    Returns
    -------
    Path
        The key file.

    Notes
    -----
    The file is created with mode 0600 (its folder 0700 when created). Paths inside the
    repository, inside any git work tree, inside a delivery or an output folder of ours, in
    a folder any user may write to, and anything but a regular file are refused (see
    :func:`envejind_eval.outpath.check_key_path`): the key must live apart from the data it
    protects, and ``force`` never removes what is not a key file.
    """
    from envejind_eval.outpath import OutputPathError, check_key_path

    path = Path(out) if out is not None else default_key_path()
    path = path.expanduser()
    parent = path.parent.resolve() if path.parent.exists() else path.parent.absolute()
    if _inside(parent, _repo_root()) and (_repo_root() / "pyproject.toml").exists():
        raise IngestError("refusing to write the pseudonym key inside the repository")
    if _git_root(parent if parent.exists() else parent.parent) is not None:
        raise IngestError("refusing to write the pseudonym key inside a git work tree")
    try:  # a regular file in a safe folder, or refused with the reason
        check_key_path(path, force=force)
    except OutputPathError as exc:
        raise IngestError(str(exc)) from None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii")
    if not force:  # O_EXCL: fails if the path appeared meanwhile
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
            fh.write(key)
        return path
    # a new file moved over the old key: replaces the name, never opens or unlinks a target
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pseudonym-", suffix=".key")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path
