"""Where utterances come from: domains (demo corpus, folders, TFDS), their on-disk store, crops."""
