"""Small pieces shared by every numeric package: parameter specs and numeric guards."""
