DROP TABLE sign_in_method_days;
DROP TABLE sign_in_days;
