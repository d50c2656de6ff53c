"""Operations: the rules of the product. They flush, never commit; views commit once."""
