import sys
# fine-tunes a base model
