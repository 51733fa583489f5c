info unordered.plw
