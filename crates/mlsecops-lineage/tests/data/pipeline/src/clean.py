import sys
# drops rows with missing values
