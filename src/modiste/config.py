"""Settings: one object, built at the entry point (CLI, API, tests) and passed down.

Values come from arguments, then ``MODISTE_*`` environment variables, then defaults. Nothing
here is read at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob Modiste reads. Derived paths are properties, not settings."""

    model_config = SettingsConfigDict(env_prefix="MODISTE_", env_nested_delimiter="__")

    data_dir: Path = Field(default=Path("modiste-data"), description="Where the catalog lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to SQLite at DATA_DIR/modiste.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )

    # Image intake
    max_image_pixels: int = Field(default=40_000_000, description="Decompression-bomb cap.")
    decode_budget_pixels: int = Field(
        default=80_000_000,
        ge=1,
        description="Pixels decoded at full size at once, process-wide (API threads and fetch "
        "workers together); more decodes wait their turn. About 4 bytes a pixel.",
    )
    fetch_timeout_s: float = Field(default=15.0, description="Longest wait for any one read.")
    fetch_deadline_s: float = Field(
        default=60.0,
        description="Longest one fetch may take in all, redirects included (a server that drips "
        "bytes never trips the per-read timeout).",
    )
    fetch_max_bytes: int = 25 * 1024 * 1024
    fetch_max_redirects: int = 5
    fetch_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (names or IPs) allowed even when they resolve to private, loopback or "
        "link-local addresses: 'host' on ports 80 and 443, 'host:8080' on that port, 'host:*' on "
        "any. Empty: only public addresses are fetched.",
    )
    fetch_workers: int = 8
    image_store: str | None = Field(
        default=None,
        description="Where originals and garment crops are kept: unset for DATA_DIR/images, or "
        "s3://bucket/prefix for an S3-compatible object store (install the s3 extra; "
        "credentials and region from the standard AWS_* variables). Thumbnails stay local.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible store (MinIO, Ceph...), e.g. "
        "http://minio:9000; unset: AWS S3 (or AWS_ENDPOINT_URL_S3).",
    )
    feed_file_roots: list[Path] = Field(
        default_factory=list,
        description="Folders a feed's local image paths may point into (symlinks and '..' "
        "resolved first; the data folder never). Empty: the imported feed's own folder.",
    )

    # Pipeline
    ingest_chunk_size: int = 32
    ingest_lock_wait_s: float = Field(
        default=0.0,
        ge=0,
        description="How long an ingest waits for another one on the same data folder to finish "
        "before refusing (0: refuse at once).",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster for `modiste ingest --engine ray`: 'auto' or ray://head:10001; "
        "unset: a local Ray instance on this machine.",
    )
    ray_actors: int | None = Field(
        default=None,
        ge=1,
        description="Ray actors per compute stage (each loads the models once); unset: one per "
        "CPU of the cluster.",
    )

    # Vector index
    vector_index_url: str | None = Field(
        default=None,
        description="Unset: FAISS files in DATA_DIR/index. http(s)://host:6333: a Qdrant server "
        "(or cluster) shared by every API replica and ingest worker.",
    )
    qdrant_api_key: str | None = None
    qdrant_collection: str = "modiste"
    qdrant_shards: int = Field(
        default=1, ge=1, description="Shards of a new Qdrant collection (spread over nodes)."
    )
    qdrant_replication_factor: int = Field(
        default=1, ge=1, description="Copies of each shard of a new collection (2: survives a node)"
    )

    # Models
    backbone: str = "mobilenet_v2"
    models_dir: Path | None = Field(
        default=None, description="Extra model files (trained heads, ONNX cache); DATA_DIR/models."
    )
    detector_mirror: str = Field(
        default="unsure",
        pattern="^(always|unsure)$",
        description="When the detector's mirror pass runs: 'unsure' only for photos with a "
        "peak between 0.3 and 0.6 (same CCP mAP50, half the passes on catalog photos), "
        "'always' on every photo; docs/decisions/ingest-and-storage.md.",
    )
    shot_mirror: str = Field(
        default="unsure",
        pattern="^(always|unsure)$",
        description="When the shot classifier's mirror pass runs: 'unsure' only for photos "
        "whose plain pass is under 0.9 (same labels on 685/685 photos, about half the backbone "
        "passes), 'always' on every photo; docs/decisions/ingest-and-storage.md.",
    )
    ingest_lanes: int = Field(
        default=0,
        ge=0,
        description="Photos the ingest runs through each model at once, every lane a "
        "one-thread ONNX Runtime session; 0: one per inference thread (MODISTE_INFERENCE_THREADS "
        "or the cores). 1: one call at a time over all cores, as queries run.",
    )
    inference_precision: str = Field(
        default="auto",
        pattern="^(auto|f32|bf16)$",
        description="Number format of the garment detector: 'f32' on ONNX Runtime; 'bf16' on "
        "OpenVINO (the openvino extra) where the CPU computes bfloat16 natively (AVX512-BF16, "
        "AMX), 1.7-1.8x faster per pass, same CCP mAP50; 'auto': bf16 where it is available, "
        "else f32. Shot labels, crop vectors and training stay float32. "
        "docs/decisions/ingest-and-storage.md, step 11.",
    )
    shot_ocr: bool = Field(
        default=True,
        description="Read the text of photos the shot head is unsure about or puts near the "
        "label classes, and let it decide wash_tag / brand_tag / size_chart "
        "(docs/decisions/shot-classifier.md, 'OCR cue'); false: the head alone.",
    )

    # Search
    search_min_score_photo: float = Field(
        default=0.52,
        ge=-1.0,
        le=1.0,
        description="Cosine under which a photo-search hit is not offered ('no close match' "
        "instead of poor hits); chosen on a validation split, docs/decisions/embeddings.md. "
        "-1 offers every hit.",
    )
    search_min_score_similar: float = Field(
        default=0.29,
        ge=-1.0,
        le=1.0,
        description="The same floor for 'Similar items' (another query weighting, its own scale).",
    )

    # Gallery ordering and cleaning
    regulation: str | None = Field(
        default=None,
        description="Regulation used by ingest: a shipped name, a name in DATA_DIR/regulations, "
        "or a YAML path. Default: the shipped 'default'.",
    )
    cleaning_policy: Path | None = Field(
        default=None, description="YAML merged over the shipped per-shot-class placement policy."
    )
    compliance_profiles: list[str] = Field(
        default_factory=list,
        description="Channel profiles (shipped names, names in DATA_DIR/profiles, or YAML paths) "
        "that ingest checks every product against, so the compliance views are instant.",
    )

    # API
    api_public_read: bool = Field(
        default=True, description="Read-only routes (search, products) need no API key."
    )
    api_max_upload_bytes: int = 15 * 1024 * 1024
    api_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Cap on a request body that is not a photo upload (JSON, forms).",
    )
    api_max_request_pixels: int = Field(
        default=400_000_000,
        ge=1,
        description="Pixels the photos of one request may hold in all, checked from their "
        "headers before decoding (over it: 413).",
    )
    api_rate_limit_per_minute: float = Field(
        default=30.0,
        ge=0,
        description="Photo search, gallery sort and ingest jobs: requests a minute per client "
        "address on each route, after a burst (429 with Retry-After beyond). 0 turns limits off.",
    )
    api_rate_limit_key_per_minute: float = Field(
        default=120.0,
        ge=0,
        description="The same for a request with a valid API key, counted per key instead of "
        "per address (a backend serving many shoppers). 0: keys are not limited.",
    )
    api_rate_limit_burst: int = Field(
        default=10, ge=1, description="Requests a client may make at once before the rate applies."
    )

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def images_dir(self) -> Path:
        return self.resolved_data_dir / "images"

    @property
    def cache_dir(self) -> Path:
        return self.resolved_data_dir / "cache"

    @property
    def regulations_dir(self) -> Path:
        return self.resolved_data_dir / "regulations"

    @property
    def profiles_dir(self) -> Path:
        return self.resolved_data_dir / "profiles"

    @property
    def model_dir(self) -> Path:
        return (self.models_dir or self.resolved_data_dir / "models").expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'modiste.db'}"
