print("flowformer")
