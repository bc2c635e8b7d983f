"""Contract: a bad constructor argument of any registered class is refused at once, with the
library's one sentence: "The '<argument>' argument of <Owner> must be ... Got ...". The calls
are each class's row in `specs.py` plus the arguments its kind shares."""

import re

import pytest

from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError

from . import specs

SENTENCE = re.compile(
    r"The '(?P<argument>\w+)' argument of (?P<owner>[\w.]+) must be .+\. Got .+\."
)


@pytest.mark.parametrize(("kind", "name", "call", "argument", "owner"), specs.bad_calls())
def test_a_bad_argument_is_refused_with_the_library_sentence(
    kind, name, call, argument, owner, tmp_path
):
    arguments = {**specs.arguments(kind, name, tmp_path), **call}
    with pytest.raises((InvalidArgumentError, InvalidTypeError)) as raised:
        registry.get(kind, name)(**arguments)
    sentence = SENTENCE.fullmatch(str(raised.value))
    assert sentence, str(raised.value)
    assert (sentence["argument"], sentence["owner"]) == (argument, owner)
