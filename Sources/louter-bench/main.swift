print("louter-bench")
