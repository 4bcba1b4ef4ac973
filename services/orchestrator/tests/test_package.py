"""The package imports without any server or model: document processing is pure code."""

from __future__ import annotations


def test_documents_package_imports() -> None:
    import ragserve.orchestrator.documents as documents

    assert documents.__doc__
