# frozen_string_literal: true

# cowscope's bundled example (`cowscope run --example`): a small app in the shape of a preforking
# server's. The parent loads a catalog (the preload); each worker then serves requests that look up
# products by name and cache what it computed. Typical copy-on-write costs follow: hashing a preloaded
# string computes and stores its coderange, a memoized instance variable changes an old object, and the
# worker's own allocations and GCs write to pages it shared with the parent.
#
# It also runs without cowscope (`ruby app.rb`): the Cowscope module exists only when cowscope's agent
# is loaded, so the workload is registered behind `defined?(Cowscope)`, and otherwise runs once here.

class Product
  attr_reader :name, :price

  def initialize(name, price)
    @name = name
    @price = price
  end

  # Memoized on first use: in a worker, the first call writes to an object the parent preloaded.
  def label
    @label ||= "#{name} (#{price} EUR)"
  end
end

# The preload: 20 000 products whose names have not been hashed yet.
CATALOG = Array.new(20_000) { |i| Product.new("product-#{i}".b.force_encoding(Encoding::UTF_8), 100 + (i % 900)) }
INDEX = {}

# One request: index the next 100 products by name (String#hash stores each name's coderange) and
# render their labels.
def serve(request)
  CATALOG[(request * 100) % CATALOG.size, 100].map do |product|
    INDEX[product.name] = product
    product.label
  end
end

if defined?(Cowscope)
  Cowscope.workload { 100.times { |request| serve(request) } }
else
  100.times { |request| serve(request) }
  puts "served 100 requests over #{INDEX.size} products (run it with cowscope run to see what the workers copy)"
end
