# The file model of bank.dat: a header, account movements and a trailer
# that counts them and sums their amounts. Every record is 42 bytes.
# The fields are given as lists, one field a line; an object without a
# name is a filler.
record_separator = "\n"

header {
  length = 42
  fields = [
    { name = "tag",  length = 1, value = "H" },
    { name = "bank", length = 4 },
    { name = "date", length = 8, type = "timestamp", format = "20060102" },
    { length = 29 },
  ]
}

body {
  length = 42
  fields = [
    { name = "tag",      length = 1, value = "D" },
    { name = "account",  length = 10 },
    { name = "name",     length = 16 },
    { name = "amount",   length = 12, type = "decimal", scale = 2, pad = "0" },
    { name = "currency", length = 3 },
  ]
}

trailer {
  length = 42
  fields = [
    { name = "tag",   length = 1,  value = "T" },
    { name = "count", length = 9,  type = "int", pad = "0", check = "count" },
    { name = "total", length = 15, type = "decimal", scale = 2, pad = "0", sum_of = "amount" },
    { length = 17 },
  ]
}
