"""What a location string names: a local path or an object-store URI, checked before any work.

A URI-looking string is never turned into a local path: ``pathlib.Path("s3://b/x")`` is
``s3:/b/x``, so an unsupported or malformed URI used as OUT would create a local directory
named ``s3:`` and fail later. Instead it is a usage error (exit 2) naming what is supported.

Inputs: ``s3://bucket/prefix`` is read through ``pyarrow.fs.S3FileSystem`` with connect and
request timeouts (so an unreachable endpoint fails in seconds, not after minutes of retries);
the endpoint comes from ``AWS_ENDPOINT_URL`` when set (MinIO, moto, a local gateway).
``gs://bucket/prefix`` through ``pyarrow.fs.GcsFileSystem``, its retries bounded in time; an
emulator from ``STORAGE_EMULATOR_HOST``. Without credentials Google's client asks a metadata
server for minutes, so credentials are checked first (a usage error naming what to set).
``hf://datasets/OWNER/NAME/PATH`` through ``huggingface_hub``'s fsspec filesystem (the
``curate[hf]`` extra), wrapped as a pyarrow filesystem.
Outputs: local paths, and ``s3://BUCKET/PREFIX`` for the stage commands (made in a local staging
copy, then published object by object with the manifest last: ``curate.io.object_output``).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pyarrow.fs as pafs

from curate.errors import UsageError

# A scheme as RFC 3986 spells it, followed by ':' (``s3:/x`` is a mistyped URI, not a path).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):/")
# Seconds before giving up on connecting to / hearing from an object store (the environment
# may lower them: CURATE_S3_CONNECT_TIMEOUT, CURATE_S3_REQUEST_TIMEOUT), and attempts per request.
CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0
ATTEMPTS = 3


def scheme_of(location: str) -> str | None:
    """The URI scheme of ``location`` (lower case), or None for a local path."""
    match = _SCHEME.match(location)
    if match is None or location.startswith("file://"):
        return None
    return match.group(1).lower()


def check_output_location(location: str, *, object_store: bool = False) -> str:
    """``location`` if it is a local path, or (with ``object_store``) a well-formed
    ``s3://BUCKET/PREFIX``; a UsageError for any other URI (never a local ``s3:``)."""
    scheme = scheme_of(location)
    if scheme is None:
        return location.removeprefix("file://")
    if scheme in ("s3", "gs", "gcs") and object_store:
        from curate.io.object_output import staging_dir

        staging_dir(location)  # checks the URI
        if scheme != "s3":
            gcs_filesystem()  # credentials, before any work rather than at publishing
        return location
    where = "local paths, s3:// and gs://" if object_store else "local paths (this command)"
    raise UsageError(
        f"the output {location!r} names a {scheme}:// location; curate writes outputs to {where} only "
        "(write locally, then copy the finished directory)"
    )


def s3_parts(location: str) -> tuple[str, str]:
    """(bucket, key without a trailing '/') of ``s3://BUCKET/KEY``; UsageError when malformed."""
    return bucket_parts(location, "s3", "S3")


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{variable}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{variable}={raw!r} must be positive")
    return value


def s3_filesystem() -> pafs.S3FileSystem:
    """An S3 filesystem with timeouts; ``AWS_ENDPOINT_URL`` picks another endpoint."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
    options: dict[str, object] = {
        "connect_timeout": _seconds("CURATE_S3_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
        "request_timeout": _seconds("CURATE_S3_REQUEST_TIMEOUT", REQUEST_TIMEOUT),
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=ATTEMPTS),
    }
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options["endpoint_override"] = host or scheme
        options["scheme"] = scheme if host else "https"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)  # type: ignore[arg-type]


def _has_gcs_credentials() -> bool:
    """Whether Google's client will find credentials without asking a metadata server."""
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") or os.environ.get("GCE_METADATA_HOST"):
        return True
    config = Path(os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    return (config / "application_default_credentials.json").is_file()


def gcs_filesystem() -> pafs.GcsFileSystem:
    """A GCS filesystem whose retries end (``CURATE_GCS_RETRY_TIMEOUT``, default the S3 request
    timeout); ``STORAGE_EMULATOR_HOST`` names an emulator (no credentials), and
    ``CURATE_GCS_ANONYMOUS=1`` reads a public bucket without credentials."""
    limit = timedelta(seconds=_seconds("CURATE_GCS_RETRY_TIMEOUT", REQUEST_TIMEOUT))
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        scheme, _, host = emulator.partition("://")
        return pafs.GcsFileSystem(
            anonymous=True,
            endpoint_override=host or scheme,
            scheme=scheme if host else "http",
            retry_time_limit=limit,
        )
    if os.environ.get("CURATE_GCS_ANONYMOUS", "").lower() in ("1", "true", "yes"):
        return pafs.GcsFileSystem(anonymous=True, retry_time_limit=limit)
    if not _has_gcs_credentials():
        raise UsageError(
            "gs:// needs Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a key file (or run "
            "`gcloud auth application-default login`), or CURATE_GCS_ANONYMOUS=1 for a public bucket"
        )
    return pafs.GcsFileSystem(retry_time_limit=limit)


def bucket_parts(location: str, scheme: str, name: str = "") -> tuple[str, str]:
    """(bucket, key without a trailing '/') of ``SCHEME://BUCKET/KEY``; UsageError (naming the store as
    ``name``, else ``SCHEME://``) when malformed."""
    what = f"{name or scheme + '://'} URI {location!r}"
    if not location.lower().startswith(f"{scheme}://"):
        raise UsageError(f"malformed {what}: want {scheme}://BUCKET/PREFIX")
    bucket, _, key = location[len(scheme) + 3 :].partition("/")
    if not bucket or "*" in bucket or " " in bucket:
        raise UsageError(f"malformed {what}: want {scheme}://BUCKET/PREFIX (no bucket name)")
    return bucket, key.rstrip("/")


def hf_filesystem() -> pafs.FileSystem:
    """The Hugging Face Hub as a pyarrow filesystem (huggingface_hub's fsspec implementation;
    ``HF_TOKEN`` for private repositories, ``HF_ENDPOINT`` for a mirror)."""
    try:
        from huggingface_hub import HfFileSystem
    except ImportError:
        raise UsageError("hf:// inputs need huggingface_hub: pip install 'curate[hf]'") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(HfFileSystem()))


def _hf_path(location: str) -> str:
    path = location.split("://", 1)[1].strip("/")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] not in ("datasets", "spaces", "models") or not all(parts[:3]):
        raise UsageError(f"malformed hf:// URI {location!r}: want hf://datasets/OWNER/NAME[/PATH]")
    return path


def resolve_input(location: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and path of an input location; UsageError for what is not supported."""
    scheme = scheme_of(location)
    if scheme is None:
        return pafs.LocalFileSystem(), os.path.abspath(location.removeprefix("file://"))
    if scheme == "s3":
        bucket, key = s3_parts(location)
        return s3_filesystem(), f"{bucket}/{key}" if key else bucket
    if scheme in ("gs", "gcs"):
        bucket, key = bucket_parts(location, scheme)
        return gcs_filesystem(), f"{bucket}/{key}" if key else bucket
    if scheme == "hf":
        return hf_filesystem(), _hf_path(location)
    raise UsageError(
        f"unsupported location {location!r}: want a local path, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX "
        "or hf://datasets/OWNER/NAME[/PATH]"
    )
