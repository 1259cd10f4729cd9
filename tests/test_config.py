"""Settings: defaults, then RAG_* variables, then explicit overrides; typed by the field annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.cli import build_parser, settings_from
from rag.config import Settings


def test_environment_values_take_each_fields_type():
    s = Settings.from_env(
        {"RAG_TOP_K": "5", "RAG_MAX_FILE_MB": "2.5", "RAG_LLM_PATH": "~/m.gguf", "RAG_HOST": "0.0.0.0"}
    )
    assert (s.top_k, s.max_file_mb, s.host) == (5, 2.5, "0.0.0.0")
    assert s.llm_path == Path("~/m.gguf").expanduser()  # "Path | None" converts to Path


def test_empty_variables_keep_defaults_and_overrides_win():
    s = Settings.from_env({"RAG_TOP_K": "5", "RAG_SEED": ""}, top_k=7, port=None)
    assert (s.top_k, s.seed, s.port) == (7, Settings().seed, Settings().port)


@pytest.mark.parametrize(
    ("name", "raw", "kind"), [("RAG_TOP_K", "five", "int"), ("RAG_MAX_FILE_MB", "x", "float")]
)
def test_a_bad_value_names_the_variable_and_the_type(name, raw, kind):
    with pytest.raises(ValueError, match=f"{name}='{raw}' is not a valid {kind}"):
        Settings.from_env({name: raw})


def test_every_setting_is_a_typed_cli_flag():
    args = build_parser().parse_args(
        ["search", "q", "--top-k", "3", "--llm-path", "m.gguf", "--corpus", "docs"]
    )
    s = settings_from(args)
    assert (s.top_k, s.llm_path, s.corpus_dir) == (3, Path("m.gguf"), Path("docs"))


@pytest.mark.parametrize(
    "raw, value", [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False)]
)
def test_yes_no_settings_read_words_not_truthiness(raw, value):
    assert Settings.from_env({"RAG_VERIFY_CLAIMS": raw}).verify_claims is value


def test_a_bad_yes_no_value_names_the_variable():
    with pytest.raises(ValueError, match="RAG_VERIFY_CLAIMS='maybe'"):
        Settings.from_env({"RAG_VERIFY_CLAIMS": "maybe"})


def test_serving_settings_come_from_the_environment_and_keys_stay_out_of_reprs():
    s = Settings.from_env(
        {
            "RAG_LLM_URL": "http://127.0.0.1:8080/v1",
            "RAG_MAX_PARALLEL": "3",
            "RAG_API_KEY": "k1",
            "RAG_LLM_API_KEY": "k2",
        }
    )
    assert (s.llm_url, s.max_parallel, s.api_key, s.llm_api_key) == (
        "http://127.0.0.1:8080/v1",
        3,
        "k1",
        "k2",
    )
    assert "k1" not in repr(s) and "k2" not in repr(s)
