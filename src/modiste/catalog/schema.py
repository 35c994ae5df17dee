"""Database tables (SQLAlchemy 2 declarative). Changes go through Alembic migrations.

These are rows, not domain objects: services convert at the repository boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {dict[str, Any]: JSON}  # noqa: RUF012


class Seller(Base):
    __tablename__ = "sellers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    products: Mapped[list[ProductRow]] = relationship(back_populates="seller")


class ProductRow(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("seller_id", "external_id", name="uq_product_seller_ext"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str | None] = mapped_column(String(200))
    gender: Mapped[str | None] = mapped_column(String(40))
    gender_confidence: Mapped[float | None] = mapped_column(Float)
    product_type: Mapped[str | None] = mapped_column(String(200))
    product_type_confidence: Mapped[float | None] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(8))
    link: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Hash of the feed row as imported: an unchanged row is skipped on re-import.
    row_hash: Mapped[str | None] = mapped_column(String(64))
    # Fields a person set (editor, API): a later feed import does not overwrite them.
    edited_fields: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    seller: Mapped[Seller] = relationship(back_populates="products")
    images: Mapped[list[ImageRow]] = relationship(
        back_populates="product",
        cascade="all, delete-orphan",
        order_by="ImageRow.position",
    )


class ImageRow(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("product_id", "source", name="uq_image_product_source"),
        Index("ix_images_status", "status"),
        Index("ix_images_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(Text)  # URL or absolute path as given by the feed
    content_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the stored bytes
    format: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    # Catalog-cleaning policy outcome: shown in galleries / indexed for search, and why.
    in_gallery: Mapped[bool | None] = mapped_column(Boolean)
    in_search: Mapped[bool | None] = mapped_column(Boolean)
    policy_reason: Mapped[str | None] = mapped_column(Text)
    gallery_rank: Mapped[int | None] = mapped_column(Integer)
    gallery_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    product: Mapped[ProductRow] = relationship(back_populates="images")
    shot: Mapped[ShotRow | None] = relationship(
        back_populates="image", cascade="all, delete-orphan", uselist=False
    )
    garments: Mapped[list[GarmentRow]] = relationship(
        back_populates="image", cascade="all, delete-orphan"
    )


class StageState(Base):
    """Which ingest stage has finished for which image: what makes ingest resumable."""

    __tablename__ = "image_stages"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # done | failed | skipped
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ShotRow(Base):
    __tablename__ = "shot_predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), unique=True, index=True
    )
    label: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16), default="model")  # model | human
    model: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    image: Mapped[ImageRow] = relationship(back_populates="shot")


class GarmentRow(Base):
    __tablename__ = "garments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    crop_hash: Mapped[str | None] = mapped_column(String(64))
    indexed: Mapped[bool] = mapped_column(Boolean, default=False)

    image: Mapped[ImageRow] = relationship(back_populates="garments")


class FingerprintRow(Base):
    """What duplicate detection keeps per image; 64-bit hashes as hex (PostgreSQL has no uint64)."""

    __tablename__ = "image_fingerprints"

    image_id: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    phash: Mapped[str] = mapped_column(String(16))
    dhash: Mapped[str] = mapped_column(String(16))
    aspect: Mapped[float] = mapped_column(Float)
    thumb: Mapped[bytes] = mapped_column(LargeBinary)
    # True once this image was checked against the others and its pairs are in image_matches
    compared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ImageMatchRow(Base):
    """An image-level duplicate pair as verified (``image_a < image_b``), before any meaning.

    Kept so the next ingest checks only new images; what a pair means (relisting, shared photo,
    offer) is decided again each time from the products' other images.
    """

    __tablename__ = "image_matches"
    __table_args__ = (Index("ix_image_matches_b", "image_b"),)

    image_a: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    image_b: Mapped[int] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)
    exact: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[str] = mapped_column(Text, default="")  # one per line


class DuplicateGroup(Base):
    __tablename__ = "duplicate_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # exact | near | relisted | shared | offer
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | split
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    members: Mapped[list[DuplicateMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan"
    )


class DuplicateMember(Base):
    __tablename__ = "duplicate_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("duplicate_groups.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)

    group: Mapped[DuplicateGroup] = relationship(back_populates="members")


class ComplianceRow(Base):
    """A product's stored check against one channel profile (issue #15): the catalog view
    lists failing products from here, and ``state`` tells whether it is still current."""

    __tablename__ = "compliance_results"
    __table_args__ = (Index("ix_compliance_profile_violations", "profile", "violations"),)

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    profile: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(64))  # hash of the profile and the gallery checked
    violations: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
