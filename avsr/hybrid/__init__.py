"""Hybrid HMM/DNN systems (Mroueh, Marcheret & Goel 2015): seed front-end, uni-modal and
bilinear audio-visual DNNs over CD-state targets, frame PER and WFST decoding."""
