module dyag

go 1.19
