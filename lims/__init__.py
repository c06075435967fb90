"""A LIMS for GMP cell-therapy labs running post-phase-II clinical trials."""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

# pyHanko imports cryptography's DSA types, which cryptography 51 deprecates; the LIMS signs with RSA or EC only, so
# the warning would only alarm whoever runs `lims demo` or the web server.
warnings.filterwarnings("ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning)
