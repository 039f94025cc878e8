print("evident: in progress")
