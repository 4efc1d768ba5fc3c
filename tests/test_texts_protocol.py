"""The JSON texts protocol shared by the baseline, Ray Serve and TorchServe glue."""

import pytest

from shared_model.texts_protocol import MAX_BODY_BYTES, BadRequest, parse_texts, prediction_objects


@pytest.mark.parametrize("body", [b'{"texts": ["a", "b"]}', '{"texts": ["a", "b"]}', {"texts": ["a", "b"]}])
def test_bytes_text_or_decoded_json(body):
    assert parse_texts(body) == ["a", "b"]


@pytest.mark.parametrize("body,status,words", [
    (b'{"texts": ["unterminated', 400, "malformed JSON"),
    (b'{"texts": "\xff\xfe"}', 400, "not valid UTF-8"),
    (b'{"unexpected": [1]}', 400, "expected a JSON body"),
    (b'{"texts": ["ok", 3]}', 400, "must be a string"),
    (b'["a"]', 400, "expected a JSON body"),
    (None, 400, "expected a JSON body"),
    (b'{"texts": ["' + b"x" * MAX_BODY_BYTES + b'"]}', 413, "over"),
])
def test_bad_requests_say_why(body, status, words):
    with pytest.raises(BadRequest) as info:
        parse_texts(body)
    assert info.value.status == status and words in info.value.message


def test_empty_batch_is_valid_and_predictions_are_objects():
    assert parse_texts(b'{"texts": []}') == []
    assert prediction_objects([("positive", 0.9)]) == [{"label": "positive", "score": 0.9}]
