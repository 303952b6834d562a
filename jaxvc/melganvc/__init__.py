"""MelGAN-VC: two-domain voice conversion, the method's parts for the trainer and its Converter."""
