"""IEC 60870-5-104 client driver (on c104) and its address convention."""
