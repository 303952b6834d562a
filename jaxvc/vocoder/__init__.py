"""The neural vocoder (mel -> audio): the method's parts for the trainer and its Vocoder."""
