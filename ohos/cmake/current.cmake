# current path: to do
