"""The viewer: its JSON API answers and refuses as it should, and its page, in headless Chromium,
shows a word's neighbours and an analogy's answer from a model trained on the synthetic corpus."""

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
import torch

import w2v
from corpora import synthetic
from w2v.cli import main
from w2v.reports.trainlog import write_training_log
from w2v.viewer.server import MAX_K, open_server

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer")
    corpus, model_folder = folder / "corpus.txt", folder / "model"
    synthetic.write_corpus(corpus, n_sentences=12_000, seed=0)
    config = w2v.TrainConfig(dim=40, threads=2, seed=3, epochs=5)
    trained = w2v.train([corpus], config, progress=False)
    trained.save(model_folder)
    write_training_log(trained.log([corpus]), model_folder)
    running = open_server(model_folder, "127.0.0.1", 0)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running, trained
    running.shutdown()
    running.server_close()


def get(server, name, **parameters):
    """The status and JSON body of GET /api/NAME?parameters."""
    running, _ = server
    url = f"{running.url}api/{name}?{urlencode(parameters)}"
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_neighbours_are_the_vectors_own(server):
    _, trained = server
    status, answer = get(server, "neighbours", word="paris", k=7)
    expected = trained.vectors.most_similar("paris", topn=7)
    assert status == 200
    assert [(n["word"], round(n["cosine"], 5)) for n in answer["neighbours"]] == [
        (word, round(cosine, 5)) for word, cosine in expected
    ]


def test_analogy_and_doesnt_match(server):
    _, trained = server
    for method in ("3cosadd", "3cosmul"):
        status, answer = get(server, "analogy", a="king", b="man", c="woman", method=method, k=3)
        assert status == 200
        assert answer["answers"][0]["word"] == "queen"
    status, answer = get(server, "doesnt_match", words="king queen prince paris")
    expected = trained.vectors.doesnt_match(["king", "queen", "prince", "paris"])
    assert (status, answer["odd_one_out"]) == (200, expected)


def test_completion_gives_the_most_frequent_words_of_the_prefix_in_order(server):
    _, trained = server
    words = trained.vectors.words
    status, answer = get(server, "complete", prefix="pa", limit=5)
    assert status == 200
    assert answer["words"] == [word for word in words if word.startswith("pa")][:5]
    assert get(server, "complete", prefix="zzzzq")[1]["words"] == []


def test_map_places_the_word_and_its_neighbours(server):
    for method in ("pca", "tsne"):
        status, answer = get(server, "map", word="king", k=12, method=method)
        assert status == 200
        points = answer["points"]
        assert points[0]["word"] == "king"
        assert len(points) == 13
        assert len({(point["x"], point["y"]) for point in points}) == 13


def test_facts_hold_the_settings_and_the_loss_per_epoch(server):
    _, trained = server
    status, facts = get(server, "facts")
    assert status == 200
    assert (facts["words"], facts["dim"], facts["training"]["dim"]) == (
        len(trained.vectors),
        40,
        40,
    )
    assert [epoch["loss"] for epoch in facts["epochs"]] == [r.loss for r in trained.history]


@pytest.mark.parametrize(
    ("name", "parameters", "status", "message"),
    [
        (
            "neighbours",
            {"word": "kingg"},
            404,
            "not in the vocabulary: 'kingg' (did you mean 'king'?)",
        ),
        ("neighbours", {"word": "  "}, 400, "'word' is empty: type a word"),
        ("neighbours", {"word": "king", "k": "ten"}, 400, "'k' must be a whole number, not 'ten'"),
        ("neighbours", {"word": "king", "k": "0"}, 400, f"'k' must be from 1 to {MAX_K}, not 0"),
        (
            "neighbours",
            {"word": "king", "k": "10000000"},
            400,
            f"'k' must be from 1 to {MAX_K}, not 10000000",
        ),
        ("analogy", {"a": "king", "b": "man"}, 400, "'c' is empty: type a word"),
        (
            "analogy",
            {"a": "king", "b": "man", "c": "woman", "method": "add"},
            400,
            "'method' must be one of 3cosadd, 3cosmul, not 'add'",
        ),
        ("doesnt_match", {"words": "king"}, 400, "'words' needs at least two words, got 1"),
        (
            "map",
            {"word": "king", "method": "umap"},
            400,
            "'method' must be one of pca, tsne, not 'umap'",
        ),
        ("map", {"word": "king", "k": "301"}, 400, "a map shows at most 300 neighbours, not 301"),
        ("nothing", {}, 404, "no API call 'nothing'"),
    ],
)
def test_bad_requests_get_a_4xx_and_one_line(server, name, parameters, status, message):
    # The vocabulary's own message may go on to say more (a subword model's, what it lacks).
    got_status, answer = get(server, name, **parameters)
    assert (got_status, list(answer)) == (status, ["error"])
    assert answer["error"].startswith(message)
    assert "Traceback" not in answer["error"]


def test_unknown_page_is_404_json(server):
    running, _ = server
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(running.url + "nowhere")
    assert caught.value.code == 404
    assert json.loads(caught.value.read()) == {"error": "no page /nowhere"}


def test_missing_vectors_and_busy_port_are_one_line_errors(server, tmp_path):
    running, _ = server
    with pytest.raises(w2v.W2VError, match="no such vectors file or model folder"):
        open_server(tmp_path / "absent", "127.0.0.1", 0)
    host, port = running.server_address[:2]
    model = tmp_path / "small"
    w2v.KeyedVectors(["a", "b"], torch.eye(2)).save(model)
    with pytest.raises(w2v.W2VError, match=f"cannot listen on {host}:{port}"):
        open_server(model, host, port)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")
def test_page_in_a_browser_shows_neighbours_and_the_analogy(server):
    playwright = pytest.importorskip("playwright.sync_api")
    running, trained = server
    expected = [word for word, _ in trained.vectors.most_similar("paris", topn=15)]
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(running.url)
        page.wait_for_selector("#facts dd")
        page.fill("#search", "paris")
        page.press("#search", "Enter")
        page.wait_for_selector("#neighbours tbody tr")
        shown = page.locator("#neighbours tbody tr td:nth-child(2)").all_inner_texts()
        assert shown == expected
        assert page.locator("#map-layer text.centre").get_attribute("data-word") == "paris"
        assert page.locator("#map-layer text").count() == 41
        page.fill("#analogy-a", "king")
        page.fill("#analogy-b", "man")
        page.fill("#analogy-c", "woman")
        page.click("#analogy-form button")
        page.wait_for_selector("#analogy-answers li")
        assert page.locator("#analogy-answers li").first.inner_text().startswith("queen")
        page.fill("#search", "kingg")
        page.press("#search", "Enter")
        page.wait_for_selector("#error:not([hidden])")
        assert "'kingg' (did you mean 'king'?)" in page.inner_text("#error")
        # Labels of close words overlap, so the click goes to the label itself, not a position.
        page.locator(f"#map-layer text[data-word='{expected[0]}']").dispatch_event("click")
        page.wait_for_function(
            f"document.querySelector('#map-layer text.centre').dataset.word === '{expected[0]}'"
        )
        assert page.input_value("#search") == expected[0]
        browser.close()


def test_serve_refuses_missing_vectors_and_a_bad_port_in_one_line(tmp_path, capsys):
    assert main(["serve", "--vectors", str(tmp_path / "absent.bin")]) == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'absent.bin'}: no such vectors file or model folder\n"
    )
    model = tmp_path / "small"
    w2v.KeyedVectors(["a", "b"], torch.eye(2)).save(model)
    assert main(["serve", "--vectors", str(model), "--port", "70000"]) == 1
    assert capsys.readouterr().err == "error: --port must be from 0 to 65535, not 70000\n"
