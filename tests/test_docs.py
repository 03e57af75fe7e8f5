from pipelines.docs import CONTRACT_DOC, render_contract_markdown


def test_contract_doc_is_generated_from_the_contract():
    assert CONTRACT_DOC.read_text() == render_contract_markdown(), (
        "docs/contract.md is stale: run `python -m pipelines.docs`"
    )
