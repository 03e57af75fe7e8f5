from pipelines.docs import (
    CONTRACT_DOC,
    DICTIONARY_DOC,
    render_contract_markdown,
    render_data_dictionary,
)


def test_contract_doc_is_generated_from_the_contract():
    assert CONTRACT_DOC.read_text() == render_contract_markdown(), (
        "docs/contract.md is stale: run `python -m pipelines.docs`"
    )


def test_data_dictionary_is_generated_from_the_models():
    assert DICTIONARY_DOC.read_text() == render_data_dictionary(), (
        "docs/data_dictionary.md is stale: run `python -m pipelines.docs`"
    )
