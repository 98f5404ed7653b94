"""Using a trained system outside a recipe: transcribe your own media files, export the E2E
models to ONNX (the layout sherpa-onnx reads), and decode exported models with onnxruntime.

- :mod:`avsr.deploy.media`: read any video container (mp4/mkv/avi/mpg, with or without audio) or
  audio file, resample audio to 16 kHz, stream video frames, split long files into chunks;
- :mod:`avsr.deploy.features`: the stage-3 preprocessing of one file (fbank / MFCC, mouth ROI
  crops at 25 fps, ROI DCT);
- :mod:`avsr.deploy.transcribe`: decode a file with a system of an experiment directory (E2E:
  CTC / HLG / attention / transducer searches; hybrid: HCLG), with word times (CTM);
- :mod:`avsr.deploy.export_onnx` / :mod:`avsr.deploy.onnx_decode`: ONNX export and our own
  onnxruntime decoding loop (the only way to run the audio-visual models from ONNX: sherpa-onnx
  takes waveforms only).
"""
