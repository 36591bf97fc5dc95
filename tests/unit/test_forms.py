from web.forms import is_number


def test_only_ascii_digits_that_fit_the_database_count_as_numbers():
    assert is_number("12") and is_number("0")
    assert not is_number("²")  # a digit to Python's isdigit(), not to int()
    assert not is_number("١٢")  # Arabic-Indic digits
    assert not is_number("") and not is_number("-1") and not is_number("1" * 19)
