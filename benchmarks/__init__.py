"""Scripts that measure speed and print their figures (run each as a script: see README)."""
