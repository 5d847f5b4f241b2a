DROP INDEX accounts_by_lower_name;
