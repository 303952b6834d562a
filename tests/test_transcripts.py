"""Transcripts of a folder's audio files: `.txt` beside a file, `transcripts.tsv` tables."""
import pytest

from jaxvc.data import transcripts


def test_transcripts_beside_files_and_in_tables(tmp_path):
  """A `.txt` beside a file wins; then a split folder's `transcripts.tsv`,
  then the folder's, each naming a file by relative path or by stem."""
  root = tmp_path / "voice"
  paths = ["train/a.wav", "train/b.wav", "train/c.wav", "test/d.wav", "test/e.v2.wav",
           "train/deep/f.wav", "test/none.wav"]
  for path in paths:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(b"")   # never read
  (root / "train" / "a.txt").write_text("Beside.\n")
  (root / "train" / "transcripts.tsv").write_text("a\tNot this one.\nb.wav\tIn train's table.\n")
  (root / "transcripts.tsv").write_text(
      "train/c\tBy path at the root.\nd\tBy stem at the root.\ne.v2\tA stem with a dot.\n"
      "f\tDeeper, by stem.\n\n")
  assert transcripts.find(root, paths) == {
      "train/a.wav": "Beside.", "train/b.wav": "In train's table.",
      "train/c.wav": "By path at the root.", "test/d.wav": "By stem at the root.",
      "test/e.v2.wav": "A stem with a dot.", "train/deep/f.wav": "Deeper, by stem."}
  (root / "transcripts.tsv").write_text("d has no tab\n")
  with pytest.raises(ValueError, match=r"transcripts.tsv:1: expected 'relative_path<TAB>text'"):
    transcripts.find(root, ["test/d.wav"])
