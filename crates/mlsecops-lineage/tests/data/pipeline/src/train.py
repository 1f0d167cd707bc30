import sys
# trains a model
