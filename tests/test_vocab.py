from grammar.vocab import TOKENS, VOCAB, Vocabulary

PINNED = "aed79ddaa68c635681b6a128d1800b3dae5313048829ae8d8867f4eab9302c24"


def test_vocabulary_is_pinned():
    assert len(VOCAB) == 177
    assert VOCAB.sha256() == PINNED
    assert VOCAB.pad_id == 0
    assert VOCAB.tokens[VOCAB.bos_id] == "<bos>" and VOCAB.tokens[VOCAB.eos_id] == "<eos>"


def test_save_load_round_trip(tmp_path):
    path = tmp_path / "vocab.json"
    VOCAB.save(path)
    back = Vocabulary.load(path)
    assert back.tokens == TOKENS and back.sha256() == PINNED


def test_encode_decode():
    ids = VOCAB.encode(["note", "pitch:C4", "dur:quarter"], bos=True, eos=True)
    assert VOCAB.decode(ids) == ["note", "pitch:C4", "dur:quarter"]
