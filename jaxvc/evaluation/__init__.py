"""Measuring what comes out.

  metrics.py         objective speech metrics of waves (MCD, speaker similarity,
                     WER/CER, F0, DNSMOS); needs the `eval` extra
  intelligibility.py phone error rate on broad classes against the transcript
                     (pocketsphinx's phone decoder, espeak-ng's phonemes; English
                     and Czech); needs the `eval` extra
  scoring.py         scoring folders of converted files against parallel targets
                     (what tools/evaluate.py prints)
  mel_statistics.py  the cheap per-bin mel statistics distance (no extra needed)
"""
